"""Kamailio audit checks (streams.audit.kamailio), on configurations written here in the shape of the
stock kamailio.cfg: feature switches (#!define WITH_...) in kamailio-local.cfg, imported at the top;
modules and their parameters behind #!ifdef; request_route calling route[REQINIT] and route[AUTH]."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from streams.audit import audit as audit_all
from streams.audit import files_under, kamailio, report

DB_SECRET = "Rw7Kd2Lp9Xq4Nm"


def stock_cfg(dburl: str = "mysql://kamailio:kamailiorw@localhost/kamailio", listen: str = "",
              reqinit_extra: str = "", scanner_drop: bool = True, main_extra: str = "", tail: str = "") -> str:
    drop = ('    if ($ua =~ "friendly|scanner|sipvicious") {\n'
            '        exit;\n'
            '    }\n') if scanner_drop else ""
    return f"""#!KAMAILIO
#
# A SIP proxy for the office phones.
#
# Switches, put in kamailio-local.cfg:
#     - WITH_MYSQL: users and locations in MySQL
#     - WITH_AUTH: digest authentication of REGISTER and calls
#     - WITH_ANTIFLOOD: pike flood detection and an ipban table
#!ifdef NOTES_NOT_CONFIG
  anything here is not configuration: route[AUTH] {{ auth_check("x"); }}
#!endif

import_file "kamailio-local.cfg"

#!ifdef WITH_MYSQL
#!trydef DBURL "{dburl}"
#!endif

#!define MSG_MAX_SIZE 8192

debug=2
log_stderror=no
children=4
{listen}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
#!ifdef WITH_MYSQL
loadmodule "db_mysql.so"
#!endif
#!ifdef WITH_AUTH
loadmodule "auth.so"
loadmodule "auth_db.so"
#!endif
#!ifdef WITH_ANTIFLOOD
loadmodule "htable.so"
loadmodule "pike.so"
#!endif

#!ifdef WITH_AUTH
modparam("auth_db", "db_url", DBURL)
modparam("auth_db", "calculate_ha1", yes)
#!endif
#!ifdef WITH_ANTIFLOOD
modparam("pike", "sampling_time_unit", 2)
modparam("htable", "htable", "ipban=>size=8;autoexpire=300;")
#!endif

/* the main route: every request starts here
   (route(AUTH) below does the authentication) */
request_route {{
    route(REQINIT);
{main_extra}    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    route(AUTH);
    if (is_method("REGISTER")) {{
        if (!save("location")) {{
            sl_reply_error();
        }}
        exit;
    }}
    route(RELAY);
}}

route[RELAY] {{
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

route[REQINIT] {{
#!ifdef WITH_ANTIFLOOD
    if (src_ip != myself) {{
        if ($sht(ipban=>$si) != $null) {{
            exit;
        }}
        if (!pike_check_req()) {{
            $sht(ipban=>$si) = 1;
            exit;
        }}
    }}
#!endif
{drop}{reqinit_extra}    if ($msg(len) > MSG_MAX_SIZE) {{
        sl_send_reply("403", "Message too large");
        exit;
    }}
}}

route[AUTH] {{
#!ifdef WITH_AUTH
    if (is_method("REGISTER") || from_uri == myself) {{
        if (!auth_check("$fd", "subscriber", "1")) {{
            auth_challenge("$fd", "0");
            exit;
        }}
        consume_credentials();
    }}
#!else
    # no authentication: do not relay to other domains
    if (uri != myself) {{
        sl_send_reply("403", "Not relaying");
        exit;
    }}
#!endif
    return;
}}
{tail}"""


LOCAL_HARDENED = "#!define WITH_MYSQL\n#!define WITH_AUTH\n#!define WITH_ANTIFLOOD\n"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def run(root: Path, cfg: str | None = None, local: str | None = LOCAL_HARDENED, extra: dict | None = None):
    files = {"kamailio.cfg": cfg if cfg is not None else stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio")}
    if local is not None:
        files["kamailio-local.cfg"] = local
    files.update(extra or {})
    write(root, files)
    return kamailio.audit(files_under([str(root)]))


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


def test_a_hardened_configuration_gives_no_findings(tmp_path):
    findings, looked = run(tmp_path)
    assert findings == []
    assert sorted(Path(x).name for x in looked) == ["kamailio-local.cfg", "kamailio.cfg"]


def test_checks_are_documented():
    assert all(c.startswith("kamailio-") and guide for c, (what, guide) in kamailio.CHECKS.items())


def test_stock_without_switches_has_no_auth_and_no_antiflood(tmp_path):
    findings, _ = run(tmp_path, stock_cfg(), local="# nothing switched on yet\n")
    cfg = tmp_path / "kamailio.cfg"
    [auth] = of(findings, "kamailio-no-auth")
    assert (auth.severity, auth.subject) == ("critical", "request_route")
    assert "WITH_AUTH is not defined" in auth.message
    assert auth.file == str(cfg) and auth.line == line_of(cfg, "#!ifdef WITH_AUTH")
    [flood] = of(findings, "kamailio-no-antiflood")
    assert flood.severity == "medium" and "WITH_ANTIFLOOD is not defined" in flood.message
    assert flood.line == line_of(cfg, "#!ifdef WITH_ANTIFLOOD")
    # WITH_MYSQL is off, so DBURL (with its stock password) is never defined
    assert of(findings, "kamailio-default-db-password") == []


def test_a_commented_out_define_is_where_the_finding_points(tmp_path):
    local = "#!define WITH_MYSQL\n# #!define WITH_AUTH\n#!define WITH_ANTIFLOOD\n"
    findings, _ = run(tmp_path, local=local)
    [auth] = of(findings, "kamailio-no-auth")
    assert auth.file == str(tmp_path / "kamailio-local.cfg") and auth.line == 2
    assert "commented out" in auth.message


def test_switches_in_the_main_file_count_too(tmp_path):
    cfg = stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio").replace(
        "#!KAMAILIO\n", "#!KAMAILIO\n" + LOCAL_HARDENED, 1)
    findings, _ = run(tmp_path, cfg, local=None)
    assert findings == []


def test_an_auth_route_request_route_never_calls(tmp_path):
    cfg = stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio").replace("    route(AUTH);\n", "")
    findings, _ = run(tmp_path, cfg)
    [auth] = of(findings, "kamailio-no-auth")
    assert "route[AUTH] authenticates but request_route never calls it" in auth.message
    assert auth.line == line_of(tmp_path / "kamailio.cfg", "request_route {")


def test_authentication_in_a_comment_or_an_else_branch_does_not_count(tmp_path):
    cfg = stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio").replace(
        "    route(REQINIT);\n",
        "    route(REQINIT);\n    /* if (!www_authorize(\"$fd\", \"subscriber\")) {\n       exit; } */\n"
        "    # proxy_authorize(\"$fd\", \"subscriber\");\n", 1)
    findings, _ = run(tmp_path, cfg, local="#!define WITH_ANTIFLOOD\n")
    assert len(of(findings, "kamailio-no-auth")) == 1


def test_a_dynamic_route_call_may_reach_any_route(tmp_path):
    cfg = stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio").replace(
        "    route(AUTH);\n", '    $var(next) = "AUTH";\n    route($var(next));\n')
    findings, _ = run(tmp_path, cfg)
    assert of(findings, "kamailio-no-auth") == []


def test_stock_database_password(tmp_path):
    findings, _ = run(tmp_path, stock_cfg())
    [f] = of(findings, "kamailio-default-db-password")
    assert (f.severity, f.subject) == ("high", "DBURL")
    assert f.line == line_of(tmp_path / "kamailio.cfg", "#!trydef DBURL")
    assert "kamailiorw" not in f.message + f.fix


def test_weak_database_password_and_a_literal_db_url(tmp_path):
    cfg = stock_cfg("mysql://kamailio:dbsecretpw@localhost/kamailio").replace(
        'modparam("auth_db", "calculate_ha1", yes)',
        'modparam("auth_db", "calculate_ha1", yes)\nmodparam("acc", "db_url", "mysql://acc:kamailioro@db1/kamailio")')
    findings, _ = run(tmp_path, cfg)
    [weak] = of(findings, "kamailio-weak-db-password")
    assert weak.severity == "medium" and "dbsecretpw" not in weak.message
    [stock] = of(findings, "kamailio-default-db-password")
    assert stock.subject == "modparam acc db_url"
    assert stock.line == line_of(tmp_path / "kamailio.cfg", 'modparam("acc"')


def test_no_source_filter(tmp_path):
    findings, _ = run(tmp_path, stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio", scanner_drop=False))
    [f] = of(findings, "kamailio-no-source-filter")
    assert f.severity == "low" and f.line == line_of(tmp_path / "kamailio.cfg", "request_route {")
    subnet = ('    if (is_method("REGISTER") && !is_in_subnet("$si", "192.168.10.0/24")) {\n'
              '        sl_send_reply("403", "Forbidden");\n        exit;\n    }\n')
    findings, _ = run(tmp_path / "ok", stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio",
                                                  scanner_drop=False, reqinit_extra=subnet))
    assert of(findings, "kamailio-no-source-filter") == []


def test_public_listen_without_tls(tmp_path):
    listen = "listen=udp:10.0.0.10:5060 advertise 203.0.113.20:5060\nlisten=tcp:10.0.0.10:5060\n"
    findings, _ = run(tmp_path, stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio", listen=listen))
    cfg = tmp_path / "kamailio.cfg"
    [tls] = of(findings, "kamailio-no-tls")
    assert (tls.severity, tls.subject, tls.line) == ("low", "listen", line_of(cfg, "listen=udp"))
    assert "203.0.113.20" in tls.message
    [port] = of(findings, "kamailio-default-port")
    assert port.line == line_of(cfg, "listen=udp")
    hardened = ("#!substdef \"!PUBLIC_IP!203.0.113.20!g\"\n"
                "listen=udp:PUBLIC_IP:15060\nlisten=tls:PUBLIC_IP:15061\n")
    findings, _ = run(tmp_path / "tls", stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio", listen=hardened))
    assert of(findings, "kamailio-no-tls") == of(findings, "kamailio-default-port") == []
    findings, _ = run(tmp_path / "lan", stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio",
                                                  listen="listen=udp:192.168.10.2:5060\n"))
    assert of(findings, "kamailio-no-tls") == []


def test_a_define_used_in_listen_is_expanded(tmp_path):
    listen = '#!define MY_IP "198.51.100.9"\nlisten=udp:MY_IP:5080\n'
    findings, _ = run(tmp_path, stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio", listen=listen))
    [f] = of(findings, "kamailio-no-tls")
    assert "198.51.100.9" in f.message
    assert of(findings, "kamailio-default-port") == []


def test_an_included_file_is_judged_with_its_configuration_not_alone(tmp_path):
    routes = "route[EXTRA] {\n    xlog(\"extra\\n\");\n}\n"
    cfg = stock_cfg(f"mysql://kamailio:{DB_SECRET}@localhost/kamailio", tail='include_file "routes/extra.cfg"\n')
    findings, looked = run(tmp_path, cfg, extra={"routes/extra.cfg": "#!KAMAILIO\n" + routes})
    assert findings == []
    assert any(x.endswith("extra.cfg") for x in looked)


def test_an_include_outside_the_paths_is_not_read(tmp_path):
    outside = tmp_path / "elsewhere"
    write(outside, {"local.cfg": LOCAL_HARDENED})
    cfg = stock_cfg().replace('import_file "kamailio-local.cfg"', f'include_file "{outside / "local.cfg"}"')
    findings, looked = run(tmp_path / "etc", cfg, local=None)
    assert not any("elsewhere" in x for x in looked)
    [auth] = of(findings, "kamailio-no-auth")
    assert "outside the paths given" in auth.message


def test_a_kemi_configuration_is_not_judged_on_its_routes(tmp_path):
    cfg = stock_cfg().replace("debug=2", 'cfgengine "lua"\ndebug=2')
    findings, _ = run(tmp_path, cfg, local="")
    assert of(findings, "kamailio-no-auth") == of(findings, "kamailio-no-antiflood") == []


def test_a_cfg_that_is_not_kamailio_is_ignored(tmp_path):
    write(tmp_path, {"haproxy.cfg": "global\n  daemon\nrequest_route {\n}\n"})
    assert kamailio.audit(files_under([str(tmp_path)])) == ([], [])


def test_no_secret_in_any_output(tmp_path):
    from streams.audit import all_checks as checks
    cfg = stock_cfg("mysql://kamailio:S3cr3tP4ss!xyz@localhost/kamailio").replace(
        'modparam("auth_db", "calculate_ha1", yes)',
        'modparam("auth_db", "calculate_ha1", yes)\nmodparam("acc", "db_url", "mysql://acc:dbsecretpw@db1/k")\n'
        'modparam("usrloc", "db_url", "mysql://kamailio:kamailiorw@db1/k")')
    write(tmp_path, {"kamailio.cfg": cfg, "kamailio-local.cfg": "#!define WITH_MYSQL\n#!define WITH_AUTH\n"})
    findings, looked = audit_all([str(tmp_path)])
    assert {f.check for f in findings} >= {"kamailio-weak-db-password", "kamailio-default-db-password"}
    sarif = json.loads(report.sarif(findings, checks()))
    for result in sarif["runs"][0]["results"]:
        result.pop("partialFingerprints")
    outputs = [report.table(findings, looked), report.jsonl(findings), json.dumps(sarif)]
    got = subprocess.run([sys.executable, "-m", "streams.cli", "audit", str(tmp_path)], capture_output=True,
                         text=True, timeout=120)
    outputs.append(got.stdout + got.stderr)
    for out in outputs:
        out = out.replace(str(tmp_path), "TREE")
        for secret in ("S3cr3tP4ss!xyz", "dbsecretpw", "kamailiorw"):
            assert secret not in out


def test_a_configuration_without_the_stock_switches_gets_a_fix_of_its_own(tmp_path):
    cfg = ("#!KAMAILIO\nloadmodule \"tm.so\"\nloadmodule \"sl.so\"\n\n"
           "request_route {\n    if (!t_relay()) {\n        sl_reply_error();\n    }\n}\n")
    findings, _ = run(tmp_path, cfg, local=None)
    [auth] = of(findings, "kamailio-no-auth")
    [flood] = of(findings, "kamailio-no-antiflood")
    assert auth.line == flood.line == 5  # request_route
    assert "WITH_AUTH" not in auth.message + auth.fix and "auth_check" in auth.fix
    assert "WITH_ANTIFLOOD" not in flood.fix and "pike_check_req" in flood.fix
    assert len(of(findings, "kamailio-no-source-filter")) == 1
