"""FreeSWITCH audit checks (streams.audit.freeswitch), on trees written here in the shape of the
vanilla configuration: vars.xml, directory/default.xml including directory/default/*.xml,
sip_profiles/{internal,external}.xml, autoload_configs/{acl,event_socket}.conf.xml."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streams.audit import audit as audit_all
from streams.audit import files_under, freeswitch, report

STRONG = {  # every secret of the hardened tree: each one distinctive, none may ever be printed
    "default": "Vq7Lm2Xr9Tz4",
    "u1": "Hq4Wn8Kc2Rb",
    "u2": "Jt6Ps3Mf9Dx",
    "esl": "Zx9Wv8Ut7Sr6Qp",
}


def vars_xml(default_password: str = STRONG["default"]) -> str:
    return f"""<include>
  <!-- the preprocessor's variables; a $${{name}} anywhere else is replaced by its value -->
  <X-PRE-PROCESS cmd="set" data="default_password={default_password}"/>
  <X-PRE-PROCESS cmd="set" data="domain=$${{local_ip_v4}}"/>
  <X-PRE-PROCESS cmd="set" data="internal_auth_calls=true"/>
  <X-PRE-PROCESS cmd="set" data="internal_sip_port=15060"/>
  <X-PRE-PROCESS cmd="set" data="internal_ssl_enable=true"/>
  <X-PRE-PROCESS cmd="stun-set" data="external_sip_ip=stun:stun.example.net"/>
</include>
"""


DOMAIN = """<include>
  <domain name="$${domain}">
    <params>
      <param name="dial-string" value="{presence_id=${dialed_user}@${dialed_domain}}${sofia_contact(${dialed_user}@${dialed_domain})}"/>
    </params>
    <groups>
      <group name="default">
        <users>
          <X-PRE-PROCESS cmd="include" data="default/*.xml"/>
        </users>
      </group>
      <group name="sales">
        <users>
          <user id="k7RmQ2xZpL" type="pointer"/>
        </users>
      </group>
    </groups>
  </domain>
</include>
"""


def user_xml(uid: str = "k7RmQ2xZpL", alias: str | None = "1000", password: str | None = STRONG["u1"],
             pin: str | None = "739418", acl: str | None = "phones", context: str | None = "default",
             extra: str = "") -> str:
    params = "".join([
        f'      <param name="password" value="{password}"/>\n' if password is not None else "",
        f'      <param name="vm-password" value="{pin}"/>\n' if pin is not None else "",
        f'      <param name="auth-acl" value="{acl}"/>\n' if acl else "",
        extra])
    alias_attr = f' number-alias="{alias}"' if alias else ""
    variables = f'      <variable name="user_context" value="{context}"/>\n' if context else ""
    return f"""<include>
  <user id="{uid}"{alias_attr}>
    <params>
{params}    </params>
    <variables>
      <variable name="toll_allow" value="domestic"/>
{variables}    </variables>
  </user>
</include>
"""


def internal_xml(extra: str = "", port: str = "$${internal_sip_port}", tls: str = "$${internal_ssl_enable}",
                 sip_ip: str = "$${local_ip_v4}", ext_sip_ip: str | None = "$${external_sip_ip}",
                 auth_calls: str = "$${internal_auth_calls}") -> str:
    ext = f'    <param name="ext-sip-ip" value="{ext_sip_ip}"/>\n' if ext_sip_ip else ""
    return f"""<profile name="internal">
  <!-- where the office's and the remote phones register -->
  <gateways>
  </gateways>
  <settings>
    <param name="context" value="public"/>
    <param name="sip-port" value="{port}"/>
    <param name="sip-ip" value="{sip_ip}"/>
{ext}    <param name="tls" value="{tls}"/>
    <param name="tls-sip-port" value="15061"/>
    <param name="auth-calls" value="{auth_calls}"/>
{extra}  </settings>
</profile>
"""


def external_xml(acl: str | None = "carriers", context: str = "public", auth_calls: str | None = "false",
                 extra: str = "") -> str:
    acl_line = f'    <param name="apply-inbound-acl" value="{acl}"/>\n' if acl else ""
    auth = f'    <param name="auth-calls" value="{auth_calls}"/>\n' if auth_calls is not None else ""
    return f"""<profile name="external">
  <settings>
    <param name="sip-port" value="15080"/>
    <param name="context" value="{context}"/>
    <param name="disable-register" value="true"/>
{auth}{acl_line}    <param name="sip-ip" value="$${{local_ip_v4}}"/>
    <param name="ext-sip-ip" value="$${{external_sip_ip}}"/>
    <param name="tls" value="false"/>
{extra}  </settings>
</profile>
"""


def acl_xml(extra: str = "") -> str:
    return f"""<configuration name="acl.conf" description="Network Lists">
  <network-lists>
    <list name="carriers" default="deny">
      <node type="allow" cidr="198.51.100.0/28"/>
    </list>
    <list name="phones" default="deny">
      <node type="allow" cidr="203.0.113.0/29"/>
      <node type="allow" cidr="192.168.10.0/24"/>
    </list>
{extra}  </network-lists>
</configuration>
"""


def esl_xml(listen: str = "127.0.0.1", password: str | None = STRONG["esl"], extra: str = "") -> str:
    pw = f'    <param name="password" value="{password}"/>\n' if password is not None else ""
    return f"""<configuration name="event_socket.conf" description="Socket Client">
  <settings>
    <param name="nat-map" value="false"/>
    <param name="listen-ip" value="{listen}"/>
    <param name="listen-port" value="8021"/>
{pw}{extra}  </settings>
</configuration>
"""


def hardened() -> dict[str, str]:
    return {
        "vars.xml": vars_xml(),
        "directory/default.xml": DOMAIN,
        "directory/default/1000.xml": user_xml(),
        "directory/default/1001.xml": user_xml("p3XsV8nQwE", "1001", STRONG["u2"], "582916"),
        "sip_profiles/internal.xml": internal_xml(),
        "sip_profiles/external.xml": external_xml(),
        "autoload_configs/acl.conf.xml": acl_xml(),
        "autoload_configs/event_socket.conf.xml": esl_xml(),
    }


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def run(root: Path, **changes: str):
    files = hardened()
    files.update({k.replace("__", "/").replace("_xml", ".xml").replace("acl_conf", "acl.conf")
                  .replace("event_socket_conf", "event_socket.conf"): v for k, v in changes.items()})
    write(root, files)
    return freeswitch.audit(files_under([str(root)]))


def tree(root: Path, files: dict[str, str]):
    write(root, files)
    return freeswitch.audit(files_under([str(root)]))


def of(findings, check: str) -> list:
    return [f for f in findings if f.check == check]


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    seen = 0
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == nth:
                return n
    raise AssertionError(f"{needle!r} not in {path}")


# ---------------------------------------------------------------- clean

def test_a_hardened_tree_gives_no_findings_and_every_file_is_read(tmp_path):
    findings, looked = tree(tmp_path, hardened())
    assert findings == []
    assert {Path(x).relative_to(tmp_path).as_posix() for x in looked} == set(hardened())


def test_every_check_has_a_guide_section_and_findings_use_known_ids(tmp_path):
    assert all(c.startswith("freeswitch-") and guide for c, (what, guide) in freeswitch.CHECKS.items())
    files = hardened()
    files.update({"vars.xml": vars_xml("1234"), "directory/default/1000.xml": user_xml("1000", None, "1000", "1000", None)})
    findings, _ = tree(tmp_path, files)
    assert findings and all(f.check in freeswitch.CHECKS and f.guide == freeswitch.CHECKS[f.check][1] for f in findings)


# ---------------------------------------------------------------- vars.xml and the directory

def test_stock_default_password_is_critical_and_so_is_every_user_that_uses_it(tmp_path):
    files = hardened()
    files["vars.xml"] = vars_xml("1234")
    files["directory/default/1000.xml"] = user_xml(password="$${default_password}")
    findings, _ = tree(tmp_path, files)
    [d] = of(findings, "freeswitch-default-password")
    assert (d.severity, d.subject, d.line) == ("critical", "default_password",
                                               line_of(tmp_path / "vars.xml", "default_password="))
    assert "k7RmQ2xZpL" in d.message  # the users that use it are named
    [u] = of(findings, "freeswitch-weak-password")
    assert u.severity == "critical" and u.subject == "user k7RmQ2xZpL"
    assert u.line == line_of(tmp_path / "directory/default/1000.xml", 'name="password"')
    assert "$${default_password}" in u.message and "1234" not in u.message + d.message


def test_a_weak_default_password_is_high_and_a_strong_one_quiet(tmp_path):
    findings, _ = run(tmp_path / "a", vars_xml=vars_xml("summer2024"))
    [d] = of(findings, "freeswitch-default-password")
    assert d.severity == "high" and "no upper case" in d.message and "summer" not in d.message
    findings, _ = run(tmp_path / "b")
    assert of(findings, "freeswitch-default-password") == []


def test_weak_user_password(tmp_path):
    findings, _ = run(tmp_path, directory__default__1001_xml=user_xml("p3XsV8nQwE", "1001", "abc12345", "582916"))
    [f] = of(findings, "freeswitch-weak-password")
    assert (f.severity, f.subject) == ("high", "user p3XsV8nQwE")
    assert f.file.endswith("1001.xml") and f.line == line_of(Path(f.file), 'name="password"')
    assert "repeated or consecutive digits" in f.message and "abc12345" not in f.message


def test_password_equal_to_the_extension(tmp_path):
    findings, _ = run(tmp_path, directory__default__1000_xml=user_xml("1000", None, "1000"))
    [f] = of(findings, "freeswitch-password-is-extension")
    assert f.severity == "critical" and f.subject == "user 1000"
    assert of(findings, "freeswitch-weak-password") == []  # one finding for one password
    findings, _ = run(tmp_path / "alias", directory__default__1000_xml=user_xml("k7RmQ2xZpL", "2040", "2040"))
    assert len(of(findings, "freeswitch-password-is-extension")) == 1


def test_a_shared_password_is_one_finding_naming_the_users_never_the_password(tmp_path):
    shared = "S3cr3tP4ss!xyz"
    findings, _ = run(tmp_path,
                      directory__default__1000_xml=user_xml(password=shared),
                      directory__default__1001_xml=user_xml("p3XsV8nQwE", "1001", shared, "582916"))
    [f] = of(findings, "freeswitch-shared-password")
    assert f.severity == "high" and "k7RmQ2xZpL" in f.message and "p3XsV8nQwE" in f.message
    assert f.file.endswith("1000.xml") and f.line == line_of(Path(f.file), 'name="password"')
    assert shared not in f.message + f.subject + f.fix
    assert of(findings, "freeswitch-weak-password") == []


def test_users_sharing_the_default_password_through_the_variable(tmp_path):
    findings, _ = run(tmp_path,
                      directory__default__1000_xml=user_xml(password="$${default_password}"),
                      directory__default__1001_xml=user_xml("p3XsV8nQwE", "1001", "$${default_password}", "582916"))
    [f] = of(findings, "freeswitch-shared-password")
    assert "$${default_password}" in f.message and "2 users" in f.message
    assert of(findings, "freeswitch-default-password") == []  # the default itself is strong


def test_a_user_without_password_accepts_any_password(tmp_path):
    findings, _ = run(tmp_path, directory__default__1000_xml=user_xml(password=None))
    [f] = of(findings, "freeswitch-no-password")
    assert f.severity == "critical" and "context default" in f.message  # its calls reach the users' context
    assert f.line == line_of(tmp_path / "directory/default/1000.xml", "<user ")
    findings, _ = run(tmp_path / "b", directory__default__1000_xml=user_xml(password="", context=None))
    [f] = of(findings, "freeswitch-no-password")
    assert f.severity == "medium"  # no user_context: the profile's context (public)
    # an a1-hash is a password FreeSWITCH checks
    a1 = '      <param name="a1-hash" value="0cc175b9c0f1b6a831c399e269772661"/>\n'
    findings, _ = run(tmp_path / "c", directory__default__1000_xml=user_xml(password=None, extra=a1))
    assert of(findings, "freeswitch-no-password") == []


def test_registration_name_that_is_the_extension_number(tmp_path):
    findings, _ = run(tmp_path, directory__default__1000_xml=user_xml("1000", None))
    [f] = of(findings, "freeswitch-registration-name")
    assert f.severity == "low" and f.line == line_of(tmp_path / "directory/default/1000.xml", "<user ")
    findings, _ = run(tmp_path / "b")
    assert of(findings, "freeswitch-registration-name") == []  # random id, number-alias 1000


def test_weak_voicemail_pin(tmp_path):
    findings, _ = run(tmp_path, directory__default__1000_xml=user_xml("1000", None, pin="1000"))
    [f] = of(findings, "freeswitch-weak-voicemail-pin")
    assert f.severity == "medium" and "the extension number" in f.message
    assert f.line == line_of(tmp_path / "directory/default/1000.xml", "vm-password")
    for pin in ("739418", "user-choose"):
        findings, _ = run(tmp_path / pin, directory__default__1000_xml=user_xml(pin=pin))
        assert of(findings, "freeswitch-weak-voicemail-pin") == []


# ---------------------------------------------------------------- SIP profiles and ACLs

def test_accept_blind_reg_and_blind_auth(tmp_path):
    extra = ('    <param name="accept-blind-reg" value="true"/>\n'
             '    <param name="accept-blind-auth" value="yes"/>\n')
    findings, _ = run(tmp_path, sip_profiles__internal_xml=internal_xml(extra))
    path = tmp_path / "sip_profiles/internal.xml"
    [reg] = of(findings, "freeswitch-blind-register")
    [auth] = of(findings, "freeswitch-blind-auth")
    assert (reg.severity, reg.subject, reg.line) == ("critical", "profile internal", line_of(path, "accept-blind-reg"))
    assert (auth.severity, auth.line) == ("critical", line_of(path, "accept-blind-auth"))
    off = extra.replace("true", "false").replace("yes", "no")
    findings, _ = run(tmp_path / "off", sip_profiles__internal_xml=internal_xml(off))
    assert of(findings, "freeswitch-blind-register") == of(findings, "freeswitch-blind-auth") == []


def test_blind_register_on_a_lan_only_profile_is_high(tmp_path):
    extra = '    <param name="accept-blind-reg" value="true"/>\n'
    findings, _ = run(tmp_path, sip_profiles__internal_xml=internal_xml(extra, sip_ip="192.168.10.2", ext_sip_ip=None))
    [f] = of(findings, "freeswitch-blind-register")
    assert f.severity == "high"


def test_unauthenticated_calls_on_a_reachable_profile(tmp_path):
    findings, _ = run(tmp_path, sip_profiles__external_xml=external_xml(acl=None))
    [f] = of(findings, "freeswitch-unauthenticated-calls")
    assert (f.severity, f.subject) == ("medium", "profile external")  # context public
    assert f.line == line_of(tmp_path / "sip_profiles/external.xml", "auth-calls")
    assert "ext-sip-ip is stun:stun.example.net" in f.message  # why it counts as reachable
    findings, _ = run(tmp_path / "d", sip_profiles__external_xml=external_xml(acl=None, context="default"))
    assert of(findings, "freeswitch-unauthenticated-calls")[0].severity == "critical"
    findings, _ = run(tmp_path / "unset", sip_profiles__external_xml=external_xml(acl=None, auth_calls=None))
    assert "not set" in of(findings, "freeswitch-unauthenticated-calls")[0].message
    # an inbound ACL of the carriers' addresses (the hardened tree) makes it quiet
    findings, _ = run(tmp_path / "ok")
    assert of(findings, "freeswitch-unauthenticated-calls") == []


def test_unauthenticated_calls_on_a_lan_only_profile_are_quiet(tmp_path):
    profile = external_xml(acl=None).replace('    <param name="ext-sip-ip" value="$${external_sip_ip}"/>\n', "") \
        .replace("$${local_ip_v4}", "192.168.10.2")
    findings, _ = run(tmp_path, sip_profiles__external_xml=profile)
    assert of(findings, "freeswitch-unauthenticated-calls") == []


def test_an_acl_that_allows_every_address(tmp_path):
    lan = ('    <list name="lan" default="allow">\n'
           '      <node type="deny" cidr="192.168.42.0/24"/>\n'
           '    </list>\n'
           '    <list name="everyone" default="deny">\n'
           '      <node type="allow" cidr="0.0.0.0/0"/>\n'
           '    </list>\n')
    extra = ('    <param name="apply-inbound-acl" value="lan"/>\n'
             '    <param name="apply-register-acl" value="wan.auto"/>\n')
    findings, _ = run(tmp_path, autoload_configs__acl_conf_xml=acl_xml(lan),
                      sip_profiles__internal_xml=internal_xml(extra),
                      sip_profiles__external_xml=external_xml(acl="everyone"))
    path = tmp_path / "sip_profiles/internal.xml"
    inbound, register = sorted(of(findings, "freeswitch-acl-allows-all"), key=lambda f: f.line)
    assert inbound.severity == register.severity == "critical"
    assert inbound.line == line_of(path, "apply-inbound-acl") and "without a password" in inbound.message
    assert "list lan" in inbound.message and "acl.conf.xml:" in inbound.message
    assert register.line == line_of(path, "apply-register-acl") and "wan.auto" in register.message
    # on a profile with auth-calls false, an open inbound ACL is no ACL
    [calls] = of(findings, "freeswitch-unauthenticated-calls")
    assert calls.subject == "profile external" and "everyone" in calls.message


def test_a_restrictive_acl_and_several_acls_one_of_them_restrictive_are_quiet(tmp_path):
    extra = ('    <param name="apply-inbound-acl" value="wan.auto"/>\n'
             '    <param name="apply-inbound-acl" value="carriers"/>\n')
    findings, _ = run(tmp_path, sip_profiles__internal_xml=internal_xml(extra))
    assert of(findings, "freeswitch-acl-allows-all") == []


def test_registration_from_anywhere(tmp_path):
    findings, _ = run(tmp_path, directory__default__1000_xml=user_xml(acl=None))
    [f] = of(findings, "freeswitch-registration-from-anywhere")
    assert (f.severity, f.subject) == ("medium", "profile internal")  # external has disable-register
    assert f.line == line_of(tmp_path / "sip_profiles/internal.xml", "<profile ")
    assert "k7RmQ2xZpL" in f.message and "p3XsV8nQwE" not in f.message


def test_an_auth_acl_on_the_domain_covers_the_users_it_includes(tmp_path):
    domain = DOMAIN.replace('    <params>\n', '    <params>\n      <param name="auth-acl" value="phones"/>\n')
    findings, _ = run(tmp_path, directory__default_xml=domain,
                      directory__default__1000_xml=user_xml(acl=None),
                      directory__default__1001_xml=user_xml("p3XsV8nQwE", "1001", STRONG["u2"], "582916", acl=None))
    assert of(findings, "freeswitch-registration-from-anywhere") == []


def test_well_known_port_and_no_tls(tmp_path):
    findings, _ = run(tmp_path, sip_profiles__internal_xml=internal_xml(port="5060", tls="false"))
    path = tmp_path / "sip_profiles/internal.xml"
    [port] = of(findings, "freeswitch-default-port")
    assert (port.severity, port.line) == ("low", line_of(path, "sip-port"))
    tls = of(findings, "freeswitch-tls-off")
    assert {f.subject for f in tls} == {"profile internal", "profile external"}
    assert all(f.severity == "low" for f in tls)
    assert [f.line for f in tls if f.subject == "profile internal"] == [line_of(path, 'name="tls"')]


# ---------------------------------------------------------------- the event socket

def test_event_socket_stock_shape(tmp_path):
    findings, _ = run(tmp_path, autoload_configs__event_socket_conf_xml=esl_xml("::", "ClueCon"))
    path = tmp_path / "autoload_configs/event_socket.conf.xml"
    [exposed] = of(findings, "freeswitch-esl-exposed")
    [pw] = of(findings, "freeswitch-esl-default-password")
    assert (exposed.severity, exposed.line) == ("high", line_of(path, "listen-ip"))
    assert (pw.severity, pw.line, pw.subject) == ("critical", line_of(path, 'name="password"'), "event socket")
    assert "ClueCon" not in pw.message + pw.fix + exposed.message


def test_event_socket_unset_password_and_loopback(tmp_path):
    findings, _ = run(tmp_path, autoload_configs__event_socket_conf_xml=esl_xml("127.0.0.1", None))
    [pw] = of(findings, "freeswitch-esl-default-password")
    assert pw.severity == "medium" and "not set" in pw.message
    assert of(findings, "freeswitch-esl-exposed") == []


def test_event_socket_acl_and_lan_address(tmp_path):
    acl = '    <param name="apply-inbound-acl" value="loopback.auto"/>\n'
    findings, _ = run(tmp_path, autoload_configs__event_socket_conf_xml=esl_xml("0.0.0.0", extra=acl))
    assert of(findings, "freeswitch-esl-exposed") == []
    findings, _ = run(tmp_path / "lan", autoload_configs__event_socket_conf_xml=esl_xml("192.168.10.2"))
    assert of(findings, "freeswitch-esl-exposed")[0].severity == "medium"
    open_acl = '    <param name="apply-inbound-acl" value="any_v4.auto"/>\n'
    findings, _ = run(tmp_path / "open", autoload_configs__event_socket_conf_xml=esl_xml("203.0.113.7", extra=open_acl))
    [f] = of(findings, "freeswitch-esl-exposed")
    assert f.severity == "high" and "any_v4.auto" in f.message


def test_event_socket_weak_password(tmp_path):
    findings, _ = run(tmp_path, autoload_configs__event_socket_conf_xml=esl_xml(password="fsadmin1"))
    [f] = of(findings, "freeswitch-esl-weak-password")
    assert f.severity == "medium" and "fsadmin1" not in f.message


# ---------------------------------------------------------------- reading

def test_entity_declarations_are_refused_unread(tmp_path):
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE include [\n <!ENTITY a "aaaaaaaaaa">\n <!ENTITY b "&a;&a;&a;&a;">\n]>\n'
            '<include>\n  <X-PRE-PROCESS cmd="set" data="default_password=&b;"/>\n</include>\n')
    findings, looked = run(tmp_path, vars_xml=bomb)
    [f] = of(findings, "freeswitch-unparsed")
    assert f.severity == "low" and "DOCTYPE or ENTITY" in f.message and f.file.endswith("vars.xml")
    with pytest.raises(freeswitch.Unsafe):
        freeswitch.parse_xml('<include><!DOCTYPE x></include>')


def test_malformed_xml_is_reported_with_its_line(tmp_path):
    broken = "<include>\n  <user id=\"1000\">\n    <params>\n  </user>\n</include>\n"
    findings, _ = run(tmp_path, directory__default__1000_xml=broken)
    [f] = of(findings, "freeswitch-unparsed")
    assert f.line == 4 and f.file.endswith("1000.xml")


def test_line_numbers_come_from_the_elements_not_from_a_text_search(tmp_path):
    # the same param appears commented out above the real one: the finding points at the real one
    extra = ('    <!-- <param name="accept-blind-reg" value="true"/> -->\n'
             '    <param name="accept-blind-reg" value="true"/>\n')
    findings, _ = run(tmp_path, sip_profiles__internal_xml=internal_xml(extra))
    [f] = of(findings, "freeswitch-blind-register")
    assert f.line == line_of(tmp_path / "sip_profiles/internal.xml", "accept-blind-reg", nth=2)


def test_two_installs_under_one_path_keep_their_own_variables(tmp_path):
    write(tmp_path / "a", hardened())
    bad = hardened()
    bad["vars.xml"] = vars_xml("1234")
    write(tmp_path / "b", bad)
    findings, _ = freeswitch.audit(files_under([str(tmp_path)]))
    [d] = of(findings, "freeswitch-default-password")
    assert Path(d.file).parent == tmp_path / "b"


# ---------------------------------------------------------------- never a secret, in any output

def leaky_tree() -> dict[str, str]:
    """A tree whose every secret is distinctive, weak ones and strong ones, shared ones and defaults."""
    files = hardened()
    files["vars.xml"] = vars_xml("zebracrossing")
    files["directory/default/1000.xml"] = user_xml("1000", None, "S3cr3tP4ss!xyz", "86429", None)
    files["directory/default/1001.xml"] = user_xml("1001", None, "S3cr3tP4ss!xyz", "$${default_password}", None)
    files["directory/default/1002.xml"] = user_xml("q9Lk2", "1002", "$${default_password}", None, None)
    files["sip_profiles/internal.xml"] = internal_xml(port="5060", tls="false")
    files["autoload_configs/event_socket.conf.xml"] = esl_xml("0.0.0.0", "eslpassword")
    return files


SECRETS = ["S3cr3tP4ss!xyz", "zebracrossing", "86429", "eslpassword", *STRONG.values()]


def test_no_secret_in_table_jsonl_or_sarif(tmp_path):
    from streams.audit import all_checks as checks
    write(tmp_path, leaky_tree())
    findings, looked = audit_all([str(tmp_path)])
    assert {f.check for f in findings} >= {"freeswitch-default-password", "freeswitch-weak-password",
                                           "freeswitch-shared-password", "freeswitch-weak-voicemail-pin",
                                           "freeswitch-esl-exposed", "freeswitch-esl-weak-password"}
    sarif = json.loads(report.sarif(findings, checks()))
    for result in sarif["runs"][0]["results"]:
        result.pop("partialFingerprints")  # hex digests, not text
    outputs = [report.table(findings, looked), report.jsonl(findings), json.dumps(sarif)]
    for out in outputs:
        out = out.replace(str(tmp_path), "TREE")
        for secret in SECRETS:
            assert secret not in out


def test_no_secret_through_the_command(tmp_path):
    write(tmp_path, leaky_tree())
    for fmt in ("table", "jsonl", "sarif"):
        got = subprocess.run([sys.executable, "-m", "streams.cli", "audit", str(tmp_path), "--format", fmt,
                              "--fail-on", "high"], capture_output=True, text=True, timeout=120)
        assert got.returncode == 1, got.stderr  # high findings are there
        text = (got.stdout + got.stderr).replace(str(tmp_path), "TREE")
        assert "freeswitch-shared-password" in text
        for secret in SECRETS:
            assert secret not in text


def test_variables_that_expand_into_each_other_stop(tmp_path):
    bomb = "".join(f'  <X-PRE-PROCESS cmd="set" data="v{i}={"$${v%d}" % (i + 1) * 50}"/>\n' for i in range(8))
    files = hardened()
    files["vars.xml"] = vars_xml().replace("</include>", bomb + '  <X-PRE-PROCESS cmd="set" data="v8=x"/>\n</include>')
    files["directory/default/1000.xml"] = user_xml(password="$${v0}")
    findings, _ = tree(tmp_path, files)
    assert of(findings, "freeswitch-weak-password") == []  # left unresolved, not judged


def test_settings_from_variables_the_tree_does_not_set_are_not_judged(tmp_path):
    # the profiles alone, without vars.xml: auth-calls and tls are $${...} nobody sets here
    files = {k: v for k, v in hardened().items() if k.startswith("sip_profiles/")}
    files["sip_profiles/internal.xml"] = internal_xml(port="5060")
    files["sip_profiles/external.xml"] = external_xml(acl=None, auth_calls="$${external_auth_calls}")
    findings, looked = tree(tmp_path, files)
    assert of(findings, "freeswitch-unauthenticated-calls") == []
    assert of(findings, "freeswitch-tls-off") == []
    assert [f.check for f in findings] == ["freeswitch-default-port"]  # 5060 is known
    assert len(looked) == 2
