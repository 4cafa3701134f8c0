"""Did a logged failure prove its source address? (``round_trip`` on a security event, issue 25.2)

Over UDP the source address of a request is whatever the sender wrote, so a failure logged on the
first packet (an unknown account, an ACL refusal, a flood, a call into a guest context) can carry a
victim's address, forged. A failure that answers a challenge (the wrong password for the nonce the
PBX sent) proves that the sender received the PBX's reply at that address. Rules block or lock only
beside a proven failure unless the policy's ``block_on_unverified_udp`` says otherwise
(docs/policy.md). What each PBX message proves is decided here, from the PBX's own reason words:

- proven (``True``): chan_sip "Wrong password"; PJSIP "Failed to authenticate"; res_security_log
  ``ChallengeResponseFailed`` and ``InvalidPassword``; IAX2 "failed MD5 authentication" (an answer to
  its challenge); FreeSWITCH "auth failure"; anything from AMI or FreeSWITCH's event socket (TCP);
- unproven (``False``): no matching peer or endpoint, an unknown user or account, an ACL refusal,
  a domain or name mismatch, "extension not found", an unknown SIP connection, IAX2 "no such peer"
  and plain "failed to authenticate", res_security_log ``InvalidAccountID``, ``FailedACL`` and
  ``UnexpectedAddress``, Kamailio's pike, malformed and secfilter lines;
- anything else: not said (``None``), which the rules treat as proven, as before this field existed.
"""

from __future__ import annotations

TCP_SERVICES = frozenset({"ami", "esl"})
PROVEN = ("wrong password", "failed to authenticate", "challengeresponsefailed", "invalidpassword",
          "failed md5 authentication", "auth failure")
UNPROVEN = ("no matching peer", "no matching endpoint", "not match endpoint", "no such peer", "user not found",
            "nonexistent user", "invalidaccountid", "failedacl", "unexpectedaddress", "acl", "not a local domain",
            "auth name mismatch", "peer is not supposed to register", "extension not found",
            "unknown sip connection", "pike", "malformed", "blocked:", "hacking attempt")


def round_trip(service: str | None, reason: str | None) -> bool | None:
    """True when the failure proved a round trip, False when it needed none, None when unknown."""
    if service in TCP_SERVICES:
        return True
    why = (reason or "").lower()
    if service == "iax2" and why == "failed to authenticate":
        return False  # IAX2 plaintext or RSA: refused on the first packet, no challenge answered
    if any(w in why for w in UNPROVEN):
        return False
    if any(w in why for w in PROVEN):
        return True
    return None
