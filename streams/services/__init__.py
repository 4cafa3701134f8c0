"""Services around the detections: ``verdict`` (a per-call answer to the PBX from the policy and the
actions topic), ``notify`` (mail, chat, syslog), ``enforce`` (firewalls and PBX scripts) and ``console``
(the SOC's web console)."""
