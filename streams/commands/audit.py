"""``tollguard audit PATH…``: weak credentials and open doors in PBX configuration files and in a tollguard
policy, each with its file, line, guide section and fix (streams.audit, docs/audit.md)."""

from __future__ import annotations

import argparse
import os
import sys

HELP = "find weak credentials and open doors in Asterisk, FreeSWITCH and Kamailio configs and in a policy"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from streams.audit import SEVERITIES
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="configuration files or folders (/etc/asterisk, /etc/freeswitch, kamailio.cfg, policy.yaml)")
    p.add_argument("--format", choices=["table", "jsonl", "sarif"], default="table",
                   help="table (default), jsonl (one finding per line; also what --baseline reads) or sarif "
                        "(SARIF 2.1.0, for code-scanning tools)")
    p.add_argument("--fail-on", choices=SEVERITIES, metavar="SEVERITY",
                   help=f"exit 1 when a finding is at least this severe ({', '.join(SEVERITIES)}); default: exit 0")
    p.add_argument("--baseline", metavar="FILE",
                   help="an earlier `--format jsonl` output: show only findings it does not hold")
    p.add_argument("--notify", metavar="FILE",
                   help="notify.yaml: when --fail-on is reached, one message on each of its channels names the findings")


def main(args) -> int:
    from streams.audit import all_checks, audit, report
    missing = [p for p in [*args.paths, *([args.baseline] if args.baseline else []), *([args.notify] if args.notify else [])]
               if not os.path.exists(p)]
    if missing:
        raise FileNotFoundError(2, "No such file or directory", missing[0])
    findings, looked = audit(args.paths)
    hidden = 0
    if args.baseline:
        try:
            accepted = report.baseline_keys(args.baseline)
        except ValueError as exc:
            print(f"tollguard audit: {exc}", file=sys.stderr)
            return 2
        kept = [f for f in findings if f.key() not in accepted]
        hidden = len(findings) - len(kept)
        findings = kept
    if args.format == "jsonl":
        sys.stdout.write(report.jsonl(findings))
    elif args.format == "sarif":
        sys.stdout.write(report.sarif(findings, all_checks()))
    else:
        print(report.table(findings, looked))
    if not looked:
        print("tollguard audit: no Asterisk, FreeSWITCH, Kamailio or policy file found under "
              + ", ".join(args.paths), file=sys.stderr)
    if hidden:
        print(f"tollguard audit: {hidden} finding(s) already in the baseline, not shown", file=sys.stderr)
    if report.failed(findings, args.fail_on):
        if args.notify:  # the guide's Event Notification: a scheduled audit that finds a door open says so
            from streams.services.archive import notify_failure
            top = "; ".join(f"{f.severity} {f.check} {f.file}:{f.line} {f.subject}" for f in findings[:10])
            unsent = notify_failure(args.notify, f"tollguard audit: {len(findings)} finding(s) at or above "
                                    f"{args.fail_on}: {top}", kind="audit_failure", title="tollguard audit found open doors")
            if unsent:
                print(f"tollguard audit: could not notify: {unsent}", file=sys.stderr)
        return 1
    return 0
