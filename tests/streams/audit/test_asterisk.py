"""Asterisk audit checks (streams.audit.asterisk): each fires on a bad tree with its file and line, stays quiet
on a good one, a hardened tree gives nothing, and no secret reaches any output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.audit import RANK, SEVERITIES, audit as audit_all, files_under, report
from streams.audit.asterisk import CHECKS, audit, parse, route_kind
from streams.audit import all_checks
from tests.streams.audit.asterisk_trees import BAD, CLEAN, line_of, write

ETC = "etc/asterisk"


def run(root: Path, tree: dict[str, str] | None = None):
    if tree is not None:
        write(root, tree)
    return audit(files_under([str(root)]))


def one(tmp_path: Path, files: dict[str, str]):
    """The findings of a tree of the given files (names relative to etc/asterisk)."""
    findings, _ = run(tmp_path, {f"{ETC}/{name}": text for name, text in files.items()})
    return findings


def of(findings, check):
    return [f for f in findings if f.check == check]


def at(root: Path, name: str) -> str:
    return str(root / ETC / name)


# --- the whole trees ------------------------------------------------------------------------------------------------

def test_a_hardened_tree_gives_no_findings(tmp_path):
    findings, looked = run(tmp_path, CLEAN)
    assert findings == []
    assert sorted(Path(f).name for f in looked) == sorted(Path(p).name for p in CLEAN)


def test_every_check_fires_on_the_bad_tree_with_valid_fields(tmp_path):
    findings, looked = run(tmp_path, BAD)
    assert {f.check for f in findings} == set(CHECKS)
    assert str(tmp_path / ETC / "sip_custom.conf") in looked   # the #include was followed
    for f in findings:
        assert f.severity in SEVERITIES
        assert f.guide == CHECKS[f.check][1]
        assert f.subject and f.message and f.fix
        assert Path(f.file).exists() and f.line >= 1
        assert len(f.message) <= 300, f.message   # the table shows 300 characters


EXPECTED = [   # check, severity, file, subject, the text on the finding's line (its nth occurrence)
    ("asterisk-sip-allowguest", "high", "sip.conf", "general", ("[general]", 1)),
    ("asterisk-sip-alwaysauthreject-off", "medium", "sip.conf", "general", ("alwaysauthreject=no", 1)),
    ("asterisk-weak-secret", "high", "sip.conf", "6001", ("secret=6001", 1)),
    ("asterisk-auth-name-is-extension", "medium", "sip.conf", "6001", ("[6001]", 1)),
    ("asterisk-auth-name-is-extension", "medium", "sip.conf", "6002", ("[6002]", 1)),
    ("asterisk-auth-name-is-extension", "medium", "sip.conf", "6003", ("[6003]", 1)),
    ("asterisk-shared-secret", "high", "sip.conf", "6002", ("secret=Tmpl8Shared", 1)),
    ("asterisk-registration-no-acl", "medium", "sip.conf", "registering accounts", ("[6001]", 1)),
    ("asterisk-no-tls", "low", "sip.conf", "general", ("[general]", 1)),
    ("asterisk-no-auth", "high", "sip_custom.conf", "6004", ("[6004]", 1)),
    ("asterisk-weak-secret", "high", "pjsip.conf", "7001", ("password=Abc7001xyz", 1)),
    ("asterisk-weak-secret", "critical", "pjsip.conf", "auth7002", ("password=1234", 1)),
    ("asterisk-auth-name-is-extension", "medium", "pjsip.conf", "7001", ("username=7001", 1)),
    ("asterisk-no-auth", "high", "pjsip.conf", "7003", ("[7003]", 1)),
    ("asterisk-guest-endpoint", "high", "pjsip.conf", "anonymous", ("[anonymous]", 1)),
    ("asterisk-registration-no-acl", "medium", "pjsip.conf", "registering accounts", ("[7001]", 1)),
    ("asterisk-no-tls", "low", "pjsip.conf", "transport-udp", ("[transport-udp]", 1)),
    ("asterisk-weak-secret", "critical", "pjsip_wizard.conf", "8001", ("inbound_auth/password", 1)),
    ("asterisk-auth-name-is-extension", "medium", "pjsip_wizard.conf", "8001", ("inbound_auth/username", 1)),
    ("asterisk-registration-no-acl", "medium", "pjsip_wizard.conf", "registering accounts", ("[8001]", 1)),
    ("asterisk-guest-endpoint", "high", "iax.conf", "guest", ("[guest]", 1)),
    ("asterisk-registration-no-acl", "medium", "iax.conf", "registering accounts", ("[iaxphone]", 1)),
    ("asterisk-ami-public", "high", "manager.conf", "general", ("bindaddr", 1)),
    ("asterisk-ami-http-public", "high", "manager.conf", "general", ("webenabled", 1)),
    ("asterisk-ami-weak-secret", "critical", "manager.conf", "admin", ("secret = amp111", 1)),
    ("asterisk-ami-no-acl", "high", "manager.conf", "admin", ("[admin]", 1)),
    ("asterisk-ami-no-acl", "high", "manager.conf", "monitor", ("[monitor]", 1)),
    ("asterisk-open-context-outbound", "critical", "extensions.conf", "default", ("[default]", 1)),
    ("asterisk-open-context-outbound", "critical", "extensions.conf", "public", ("[public]", 1)),
    ("asterisk-open-context-outbound", "critical", "extensions.conf", "phones", ("[phones]", 1)),
]
TEXT = {Path(rel).name: text for rel, text in BAD.items()}


def test_the_bad_tree_gives_exactly_the_expected_findings_at_their_lines(tmp_path):
    findings, _ = run(tmp_path, BAD)
    got = sorted((f.check, f.severity, Path(f.file).name, f.subject, f.line) for f in findings)
    want = sorted((check, severity, name, subject, line_of(TEXT[name], needle, nth))
                  for check, severity, name, subject, (needle, nth) in EXPECTED)
    assert got == want
    assert all(Path(f.file).parent == tmp_path / ETC for f in findings)


def test_the_messages_name_what_an_operator_needs(tmp_path):
    findings, _ = run(tmp_path, BAD)
    by = {(f.check, f.subject): f for f in findings}
    default = by[("asterisk-open-context-outbound", "default")].message
    assert "allowguest" in default and "international" in default
    assert "default -(include extensions.conf:11)-> longdistance -(include extensions.conf:20)-> intl" in default
    assert "_011. dials IAX2" in default and f"extensions.conf:{line_of(TEXT['extensions.conf'], '_011.')}" in default
    public = by[("asterisk-open-context-outbound", "public")].message
    assert "pjsip anonymous endpoint" in public and "-(Goto extensions.conf:" in public and "-> outbound" in public
    shared = by[("asterisk-shared-secret", "6002")].message
    assert "3 accounts" in shared and "6002, 6003, iaxphone" in shared and "iax.conf, sip.conf" in shared
    assert "digits only" in by[("asterisk-weak-secret", "6001")].message
    assert "contains the extension number" in by[("asterisk-weak-secret", "7001")].message
    assert "well-known default" in by[("asterisk-ami-weak-secret", "admin")].message
    assert "permit without deny restricts nothing" in by[("asterisk-ami-no-acl", "monitor")].message
    assert any("2 account(s) in pjsip.conf" in f.message and f.message.endswith(": 7001, 7002")
               for f in of(findings, "asterisk-registration-no-acl"))
    assert "reaches an outbound route" in by[("asterisk-sip-allowguest", "general")].message


# --- no secret in any output ----------------------------------------------------------------------------------------

SECRETS = ["S3cr3tP4ss!xyz", "zqxjvkwpq", "Wq7001Rty!k", "qqzzvvyyqq", "kvvzzqppww", "xqzwv77k", "M0nS3cr3t!Qz",
           "TrunkS3cr3t!9", "Gh7;Semi9Kx", "0123456789", "Ab3\"Quote'9z", "Md5Cr3dXyzQ"]


def secretive_tree() -> dict[str, str]:
    """The bad tree with distinctive passwords in every place a check looks (weak ones, strong shared ones, one
    with an escaped semicolon, one that is the digits 0-9)."""
    swap = {"secret=6001": "secret=zqxjvkwpq", "secret=Tmpl8Shared": "secret=S3cr3tP4ss!xyz",
            "password=Abc7001xyz": "password=Wq7001Rty!k", "password=1234": "password=qqzzvvyyqq",
            "inbound_auth/password=password": "inbound_auth/password=kvvzzqppww",
            "secret = amp111": "secret = xqzwv77k", "secret = Mon1t0rQzPw2": "secret = M0nS3cr3t!Qz",
            "password=tr": "password=TrunkS3cr3t!9"}
    out = {}
    for rel, text in BAD.items():
        for a, b in swap.items():
            text = text.replace(a, b)
        out[rel] = text
    out[f"{ETC}/sip.conf"] += ('\n[Kq2m9Xz4]\ntype=friend\nhost=dynamic\nsecret=Gh7\\;Semi9Kx ; an escaped semicolon\n'
                               '\n[Hx8p3Lw5]\ntype=friend\nhost=dynamic\nsecret=0123456789\n'
                               '\n[Jy5r2Nq7]\ntype=friend\nhost=dynamic\nsecret=Ab3"Quote\'9z\n')
    out[f"{ETC}/pjsip.conf"] += "\n[md5user]\ntype=auth\nauth_type=md5\nusername=md5user\nmd5_cred=Md5Cr3dXyzQ\n"
    return out


def test_no_secret_appears_in_table_jsonl_or_sarif(tmp_path):
    tree = secretive_tree()
    write(tmp_path, tree)
    joined = "\n".join(tree.values())
    assert all(s in joined or s.replace(";", "\\;") in joined for s in SECRETS)
    findings, looked = audit_all([str(tmp_path)])
    assert {f.check for f in findings} == set(CHECKS)
    weak = [f for f in findings if f.check == "asterisk-weak-secret"]
    assert {f.subject for f in weak} >= {"6001", "7001", "auth7002", "8001", "Hx8p3Lw5"}
    outputs = [report.table(findings, looked), report.jsonl(findings), report.sarif(findings, all_checks()),
               json.dumps([f.as_dict() for f in findings])]
    for out in outputs:
        for secret in SECRETS:
            for form in {secret, secret.replace(";", "\\;"), json.dumps(secret)[1:-1]}:
                assert form not in out, f"{form!r} leaked"
    for secret in ("Tmpl8Shared", "Abc7001xyz", "amp111", "Mon1t0rQzPw2"):   # the plain bad tree's too
        for out in outputs:
            assert secret not in out


def test_the_bad_tree_through_the_command(tmp_path, capsys):
    from streams.cli import main
    write(tmp_path, BAD)
    assert main(["audit", str(tmp_path), "--format", "jsonl", "--fail-on", "critical"]) == 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["check"] for r in rows} == set(CHECKS)
    assert rows[0]["severity"] == "critical"
    assert main(["audit", str(write(tmp_path / "clean", CLEAN)), "--fail-on", "low"]) == 0
    assert "no findings in 7 file(s) read" in capsys.readouterr().out


# --- the syntax -----------------------------------------------------------------------------------------------------

def test_parser_templates_comments_includes_and_lines(tmp_path):
    main = tmp_path / "sip.conf"
    main.write_text(
        "[general] ; the general section\n"          # 1
        "context = incoming ; guests\n"              # 2
        ";-- a block comment\n"                      # 3
        "[hidden]\n"                                 # 4
        "type=friend --;\n"                          # 5
        "#include \"more.conf\"\n"                   # 6
        "#tryinclude missing.conf\n"                 # 7
        "[base](!)\n"                                # 8
        "type => friend\n"                           # 9
        "secret=Ab\\;cd ; real comment\n"            # 10
        "[alice](base)\n"                            # 11
        "host=dynamic\n"                             # 12
        "[alice](+)\n"                               # 13
        "permit=10.0.0.0/8\n"                        # 14
    )
    (tmp_path / "more.conf").write_text("\n[bob](base)\nsecret=other\n")
    allowed = {p.resolve(): p for p in (main, tmp_path / "more.conf")}
    conf = parse(main, "sip", tmp_path, allowed)
    names = [(s.name, s.template, Path(s.file).name, s.line) for s in conf.sections]
    assert names == [("general", False, "sip.conf", 1), ("bob", False, "more.conf", 2),
                     ("base", True, "sip.conf", 8), ("alice", False, "sip.conf", 11)]
    general, bob, base, alice = conf.sections
    assert general.get("context") == "incoming"
    assert base.get("type") == "friend" and base.entry("type").line == 9
    assert alice.get("secret") == "Ab;cd" and alice.entry("secret").line == 10
    assert alice.entry("secret").origin == "base"
    assert alice.get("permit") == "10.0.0.0/8" and alice.entry("permit").line == 14
    assert bob.get("secret") == "other" and bob.entry("secret").file == str(tmp_path / "more.conf")
    assert bob.get("type") is None   # base is defined after bob: nothing to inherit yet
    assert conf.files == [str(main), str(tmp_path / "more.conf")]


def test_an_include_outside_the_paths_is_not_read(tmp_path):
    write(tmp_path, BAD)
    findings, looked = audit([tmp_path / ETC / "sip.conf"])
    assert [str(tmp_path / ETC / "sip.conf")] == looked
    assert not [f for f in findings if f.subject == "6004"]


def test_include_cycles_and_globs(tmp_path):
    findings = one(tmp_path, {
        "sip.conf": "[general]\nallowguest=no\n#include sip_*.conf\n",
        "sip_a.conf": "#include sip.conf\n[6100]\ntype=friend\nhost=dynamic\nsecret=6100\n",
        "sip_b.conf": "[6200]\ntype=friend\nhost=dynamic\nsecret=6200\n"})
    weak = sorted((Path(f.file).name, f.subject, f.line) for f in of(findings, "asterisk-weak-secret"))
    assert weak == [("sip_a.conf", "6100", 5), ("sip_b.conf", "6200", 4)]


# --- chan_sip -------------------------------------------------------------------------------------------------------

def test_allowguest_default_explicit_and_off(tmp_path):
    assert of(one(tmp_path / "a", {"sip.conf": "[general]\ncontext=x\n"}), "asterisk-sip-allowguest")
    f = of(one(tmp_path / "b", {"sip.conf": "[general]\ncontext=x\nallowguest=yes\n"}), "asterisk-sip-allowguest")
    assert [x.line for x in f] == [3] and "allowguest is yes:" in f[0].message
    assert f[0].severity == "high" and "no extensions.conf" in f[0].message
    assert not of(one(tmp_path / "c", {"sip.conf": "[general]\nallowguest=no\n"}), "asterisk-sip-allowguest")


def test_a_guest_context_that_reaches_nothing_is_medium(tmp_path):
    findings = one(tmp_path, {"sip.conf": "[general]\ncontext=guests\n",
                              "extensions.conf": "[guests]\nexten => _X.,1,Hangup()\n"})
    (f,) = of(findings, "asterisk-sip-allowguest")
    assert f.severity == "medium" and "reaches no outbound route" in f.message
    assert not of(findings, "asterisk-open-context-outbound")


def test_alwaysauthreject_only_an_explicit_no(tmp_path):
    for n, value in enumerate(("", "alwaysauthreject=yes\n")):
        assert not of(one(tmp_path / str(n), {"sip.conf": "[general]\nallowguest=no\n" + value}),
                      "asterisk-sip-alwaysauthreject-off")


def test_weak_secret_inherited_from_a_template_is_one_finding_at_the_template(tmp_path):
    sip = ("[general]\nallowguest=no\n[tpl](!)\ntype=friend\nhost=dynamic\nsecret=abcdefgh\n"
           "deny=0.0.0.0/0.0.0.0\npermit=10.0.0.0/255.0.0.0\n"
           "[Qw3rTy7u](tpl)\ncallerid=\"A\" <5001>\n[Zx8cVb2n](tpl)\ncallerid=\"B\" <5002>\n")
    findings = one(tmp_path, {"sip.conf": sip})
    (weak,) = of(findings, "asterisk-weak-secret")
    assert (weak.subject, weak.line) == ("tpl", 6)
    assert "template tpl and inherited by Qw3rTy7u, Zx8cVb2n" in weak.message
    assert of(findings, "asterisk-shared-secret")
    assert not of(findings, "asterisk-auth-name-is-extension")   # names are not the numbers in callerid
    assert not of(findings, "asterisk-registration-no-acl")      # deny and permit come from the template


def test_registration_acl_summary_names_five_and_counts_the_rest(tmp_path):
    peers = "".join(f"[p{i}x7Kq]\ntype=friend\nhost=dynamic\nsecret=Vb4kLq9zR{i}\npermit=10.0.0.0/8\n"
                    for i in range(7))
    (f,) = of(one(tmp_path, {"sip.conf": "[general]\nallowguest=no\n" + peers}), "asterisk-registration-no-acl")
    assert "7 account(s)" in f.message and "p0x7Kq, p1x7Kq, p2x7Kq, p3x7Kq, p4x7Kq and 2 more" in f.message
    assert "permit without deny restricts nothing" in f.message and f.line == 3


def test_a_trunk_peer_is_not_a_registration_and_its_context_is_inbound(tmp_path):
    findings = one(tmp_path, {
        "sip.conf": "[general]\nallowguest=no\n[carrier]\ntype=peer\nhost=198.51.100.9\ncontext=from-carrier\n",
        "extensions.conf": "[from-carrier]\nexten => _X.,1,Dial(SIP/carrier/${EXTEN})\n"})
    assert not of(findings, "asterisk-no-auth") and not of(findings, "asterisk-registration-no-acl")
    (f,) = of(findings, "asterisk-open-context-outbound")
    assert f.severity == "high" and "sip.conf trunk carrier" in f.message and f.line == 1


# --- PJSIP ----------------------------------------------------------------------------------------------------------

def test_pjsip_anonymous_quiet_when_absent_and_md5_not_judged(tmp_path):
    pjsip = ("[t]\ntype=transport\nprotocol=tls\n[acl]\ntype=acl\ndeny=0.0.0.0/0.0.0.0\npermit=10.0.0.0/8\n"
             "[Rt5yUi8o]\ntype=endpoint\nauth=Rt5yUi8o\nmedia_encryption=dtls\n"
             "[Rt5yUi8o]\ntype=auth\nauth_type=md5\nusername=Rt5yUi8o\nmd5_cred=0123\n")
    assert one(tmp_path, {"pjsip.conf": pjsip}) == []


def test_a_global_pjsip_acl_covers_every_endpoint_and_permit_alone_does_not(tmp_path):
    base = ("[Rt5yUi8o]\ntype=endpoint\nauth=a1\n[a1]\ntype=auth\nusername=Rt5yUi8o\npassword=Mn4bVc8xZq\n")
    assert not of(one(tmp_path / "a", {"pjsip.conf": base + "[acl]\ntype=acl\ndeny=0.0.0.0/0.0.0.0\n"}),
                  "asterisk-registration-no-acl")
    assert of(one(tmp_path / "b", {"pjsip.conf": base + "[acl]\ntype=acl\npermit=10.0.0.0/8\n"}),
              "asterisk-registration-no-acl")


def test_an_auth_shared_by_two_endpoints_is_a_shared_password(tmp_path):
    pjsip = ("[A1b2C3d4]\ntype=endpoint\nauth=common\ndeny=0.0.0.0/0.0.0.0\n"
             "[E5f6G7h8]\ntype=endpoint\nauth=common\ndeny=0.0.0.0/0.0.0.0\n"
             "[common]\ntype=auth\nusername=Kp9sLm2q\npassword=Mn4bVc8xZq\n")
    (f,) = of(one(tmp_path, {"pjsip.conf": pjsip}), "asterisk-shared-secret")
    assert "2 accounts" in f.message and "A1b2C3d4, E5f6G7h8" in f.message and f.line == 12


def test_an_unauthenticated_endpoint_with_ip_only_identification_is_quiet(tmp_path):
    assert not of(one(tmp_path, {"pjsip.conf": "[gw]\ntype=endpoint\nidentify_by=ip\ncontext=x\n"}),
                  "asterisk-no-auth")


def test_pjsip_tls_transport_silences_the_tls_check(tmp_path):
    pjsip = ("[udp]\ntype=transport\nprotocol=udp\n[Rt5yUi8o]\ntype=endpoint\nauth=a1\ndeny=0.0.0.0/0.0.0.0\n"
             "[a1]\ntype=auth\nusername=Rt5yUi8o\npassword=Mn4bVc8xZq\n")
    (f,) = of(one(tmp_path / "a", {"pjsip.conf": pjsip}), "asterisk-no-tls")
    assert f.severity == "low" and f.line == 1
    assert not of(one(tmp_path / "b", {"pjsip.conf": pjsip + "[tls]\ntype=transport\nprotocol=tls\n"}),
                  "asterisk-no-tls")


# --- AMI ------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("general, public", [
    ("enabled=yes\nbindaddr=127.0.0.1\n", False),
    ("enabled=yes\nbindaddr=192.168.1.5\n", False),
    ("enabled=no\nbindaddr=0.0.0.0\n", False),
    ("bindaddr=0.0.0.0\n", False),                      # AMI is off by default
    ("enabled=yes\n", True),                            # bindaddr defaults to 0.0.0.0
    ("enabled=yes\nbindaddr=93.184.216.34\n", True),
    ("enabled=yes\nbindaddr=::\n", True),
    ("enabled=yes\nbindaddr=127.0.0.1\ntlsenable=yes\ntlsbindaddr=0.0.0.0:5039\n", True),
])
def test_ami_public(tmp_path, general, public):
    findings = one(tmp_path, {"manager.conf": "[general]\n" + general})
    assert bool(of(findings, "asterisk-ami-public")) == public


@pytest.mark.parametrize("general, acl, severity", [
    ("enabled=yes\n", "", "critical"),                                  # any address may try amp111
    ("enabled=yes\n", "deny=0.0.0.0/0.0.0.0\npermit=127.0.0.1/255.255.255.255\n", "high"),
    ("enabled=yes\nbindaddr=127.0.0.1\n", "", "high"),
    ("enabled=no\n", "", "medium"),
])
def test_ami_default_secret_severity_follows_exposure(tmp_path, general, acl, severity):
    (f,) = of(one(tmp_path, {"manager.conf": "[general]\n" + general + "[admin]\nsecret=amp111\n" + acl}),
              "asterisk-ami-weak-secret")
    assert (f.severity, f.line) == (severity, 3 + general.count("\n"))
    assert "(AMI is off now)" in f.message if severity == "medium" else "off" not in f.message


def test_ami_strong_secret_with_acl_is_quiet_and_no_acl_is_low_on_loopback(tmp_path):
    strong = "[admin]\nsecret=Zu7cKd4fXb2h\ndeny=0.0.0.0/0.0.0.0\npermit=127.0.0.1/255.255.255.255\n"
    assert one(tmp_path / "s", {"manager.conf": "[general]\nenabled=yes\nbindaddr=127.0.0.1\n" + strong}) == []
    (f,) = of(one(tmp_path / "u", {"manager.conf": "[general]\nenabled=yes\nbindaddr=127.0.0.1\n"
                                                    "[crm]\nsecret=Zu7cKd4fXb2h\n"}), "asterisk-ami-no-acl")
    assert f.severity == "low" and f.line == 4


def test_ami_over_http_needs_webenabled_and_a_public_http_bind(tmp_path):
    manager = "[general]\nenabled=yes\nbindaddr=127.0.0.1\nwebenabled=yes\n"
    assert of(one(tmp_path / "a", {"manager.conf": manager, "http.conf": "[general]\nenabled=yes\nbindaddr=0.0.0.0\n"}),
              "asterisk-ami-http-public")[0].line == 4
    for n, http in enumerate(("[general]\nenabled=yes\nbindaddr=127.0.0.1\n", "[general]\nenabled=no\nbindaddr=0.0.0.0\n")):
        assert not of(one(tmp_path / str(n), {"manager.conf": manager, "http.conf": http}), "asterisk-ami-http-public")
    assert not of(one(tmp_path / "c", {"manager.conf": manager.replace("webenabled=yes", "webenabled=no"),
                                       "http.conf": "[general]\nenabled=yes\nbindaddr=0.0.0.0\n"}),
                  "asterisk-ami-http-public")


# --- the dialplan ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern, kind", [
    ("_00.", "international"), ("_011.", "international"), ("_9011.", "international"), ("_+.", "international"),
    ("_X.", "international"), ("_.", "international"), ("_0.", "international"), ("_90XXXXXXXXX.", "international"),
    ("_1NXXNXXXXXX", "outbound"), ("_NXXXXXX", "outbound"), ("_9NXXXXXX", "outbound"), ("_0[1-9].", "outbound"),
    ("_6XXX", None), ("_X", None), ("_1XXXX", None), ("6001", None), ("s", None),
])
def test_route_kind(pattern, kind):
    assert route_kind(pattern) == kind


GUEST_SIP = "[general]\ncontext=incoming\n"


def reach(tmp_path, dialplan: str, sip: str = GUEST_SIP):
    return of(one(tmp_path, {"sip.conf": sip, "extensions.conf": dialplan}), "asterisk-open-context-outbound")


@pytest.mark.parametrize("dialplan, chain", [
    ("[incoming]\nexten => _X.,1,Goto(out,${EXTEN},1)\n[out]\nexten => _00.,1,Dial(PJSIP/${EXTEN}@carrier)\n",
     "incoming -(Goto extensions.conf:2)-> out"),
    ("[incoming]\nexten => _X.,1,GotoIf($[${LEN(${EXTEN})} > 4]?out,${EXTEN},1:local,${EXTEN},1)\n[local]\n"
     "[out]\nexten => _00.,1,Dial(DAHDI/g0/${EXTEN})\n", "incoming -(GotoIf extensions.conf:2)-> out"),
    ("[incoming]\nexten => _X.,1,Dial(Local/${EXTEN}@out)\n[out]\nexten => _011.,1,Dial(IAX2/carrier/${EXTEN})\n",
     "incoming -(Local extensions.conf:2)-> out"),
    ("[incoming]\nexten => _X.,1,Macro(outcall,${EXTEN})\n[macro-outcall]\nexten => s,1,Dial(SIP/carrier/${ARG1})\n",
     "incoming -(Macro extensions.conf:2)-> macro-outcall"),
    ("[incoming]\nexten => _X.,1,Gosub(sub-out,s,1(${EXTEN}))\n[sub-out]\nexten => s,1,Dial(SIP/${ARG1}@carrier)\n",
     "incoming -(Gosub extensions.conf:2)-> sub-out"),
    ("[incoming]\nexten => s,1,DISA(no-password,out)\n[out]\nexten => _9011.,1,Dial(SIP/carrier/${EXTEN:1})\n",
     "incoming -(DISA extensions.conf:2)-> out"),
    ("[incoming]\nexten => _00.,1,Macro(dialout-trunk,1,${EXTEN},,off)\n", "incoming"),   # FreePBX's outbound route
    ("[tpl](!)\nexten => _00.,1,Dial(${CARRIER}/${EXTEN})\n[incoming](tpl)\n", "incoming"),
])
def test_the_dialplan_is_followed(tmp_path, dialplan, chain):
    (f,) = reach(tmp_path, dialplan)
    assert f.severity == "critical" and f.subject == "incoming" and f.line == line_of(dialplan, "[incoming]")
    assert f"international route: {chain}:" in f.message


@pytest.mark.parametrize("dialplan", [
    "[incoming]\nexten => _6XXX,1,Dial(SIP/${EXTEN},20)\n",                             # the office's phones
    "[incoming]\nexten => _6XXX,1,Dial(PJSIP/${EXTEN})\nexten => 5551234,1,Dial(SIP/carrier/${EXTEN})\n",
    "[incoming]\nexten => 5551234,1,Goto(phones,6001,1)\n[phones]\nexten => _00.,1,Dial(SIP/carrier/${EXTEN})\n",
    "[incoming]\nexten => _6XXX,1,Goto(phones,${EXTEN},1)\n[phones]\nexten => _00.,1,Dial(SIP/carrier/${EXTEN})\n",
    "[incoming]\nexten => _X.,1,Goto(nowhere,${EXTEN},1)\n",
    "[incoming]\nexten => _X.,1,Hangup()\n[phones]\nexten => _00.,1,Dial(SIP/carrier/${EXTEN})\n",
    "[incoming]\ninclude => phones\n[phones]\nexten => _6XXX,1,Dial(SIP/carrier/${EXTEN})\n",  # 4 digits: no route
])
def test_the_dialplan_stays_quiet_when_no_route_is_reached(tmp_path, dialplan):
    assert reach(tmp_path, dialplan) == []


def test_severity_of_a_reached_route(tmp_path):
    national = "[incoming]\nexten => _1NXXNXXXXXX,1,Dial(SIP/carrier/${EXTEN})\n"
    assert [f.severity for f in reach(tmp_path / "a", national)] == ["high"]
    closed = "[general]\ncontext=guests\nallowguest=no\n"
    intl = "[guests]\nexten => _00.,1,Dial(SIP/carrier/${EXTEN})\n"
    assert reach(tmp_path / "b", intl, closed) == []                   # no guest: the context is no entry
    (f,) = reach(tmp_path / "c", intl.replace("guests", "from-pstn"), closed)
    assert f.severity == "high" and "named as an inbound or default context" in f.message
    (f,) = reach(tmp_path / "d", national.replace("incoming", "public"), closed)
    assert f.severity == "medium"
    (f,) = reach(tmp_path / "e", intl.replace("guests", "ph"),
                 "[general]\nallowguest=no\n[6100]\ntype=friend\nhost=dynamic\ncontext=ph\n")
    assert f.severity == "critical" and "sip.conf friend 6100 without a secret" in f.message


def test_the_bad_trees_severities_are_ordered_for_the_report(tmp_path):
    findings, _ = audit_all([str(write(tmp_path, BAD))])
    ranks = [RANK[f.severity] for f in findings]
    assert ranks == sorted(ranks, reverse=True)


def test_odd_files_are_read_without_failing(tmp_path):
    findings = one(tmp_path, {
        "sip.conf": "",                                   # chan_sip left unconfigured: nothing to say
        "extensions.conf": "exten => _X.,1,Dial(SIP/a/${EXTEN})\n[ctx\n[default]\nexten => s\nexten => _X.,1,"
                           "GotoIf(nothing)\nsame => n,Gosub(\nexten => _X.,1,Dial(\ninclude => default\n"
                           "exten => _[,1,Goto(default,${EXTEN},1)\n\x00\xff;--never closed\n[late]\n",
        "manager.conf": "[general]\nenabled=yes\nbindaddr=not-an-address\n[x](missing-template)\n",
        "iax.conf": "=\n[general\nkey\n#exec /bin/true\n",
    })
    assert not of(findings, "asterisk-sip-allowguest") and not of(findings, "asterisk-ami-public")
    assert [f.check for f in findings] == ["asterisk-ami-no-acl"]   # [x] is a user without secret or ACL


def test_a_long_chain_is_shortened_in_the_message(tmp_path):
    hops = "".join(f"[c{i}]\ninclude => c{i + 1}\n" for i in range(1, 9))
    (f,) = reach(tmp_path, "[incoming]\ninclude => c1\n" + hops + "[c9]\nexten => _00.,1,Dial(SIP/carrier/${EXTEN})\n")
    assert "incoming -(include extensions.conf:2)-> c1 -(include extensions.conf:4)-> c2 …5 more… -(include extensions.conf:16)-> c8 " in f.message
    assert "-(include extensions.conf:18)-> c9: _00. dials SIP (extensions.conf:20)" in f.message
    assert len(f.message) <= 300


def test_a_guest_context_missing_from_the_dialplan_is_medium(tmp_path):
    (f,) = of(one(tmp_path, {"iax.conf": "[guest]\ntype=user\ncontext=nowhere\n",
                             "extensions.conf": "[phones]\nexten => _6XXX,1,Dial(SIP/${EXTEN})\n"}),
              "asterisk-guest-endpoint")
    assert f.severity == "medium" and "nowhere is not in the extensions.conf read" in f.message


def test_each_folder_is_its_own_pbx(tmp_path):
    findings, looked = run(tmp_path, {
        "pbx-a/sip.conf": "[general]\ncontext=guests\n",
        "pbx-b/extensions.conf": "[guests]\nexten => _00.,1,Dial(SIP/carrier/${EXTEN})\n"})
    assert len(looked) == 2 and not of(findings, "asterisk-open-context-outbound")
    (f,) = of(findings, "asterisk-sip-allowguest")
    assert "no extensions.conf read beside it" in f.message and f.severity == "high"
