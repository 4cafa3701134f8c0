"""What a backend does for one action, as data: a program to run or an HTTP request to send.

A backend *plans* a step (pure: nothing runs), the applier *runs* it, and ``--dry-run`` prints its
:meth:`describe` instead. Programs run from an argv list, never through a shell, with a timeout;
values that came off the topic are single argv elements whatever they hold. ``describe`` is JSON
(controls and non-ASCII escaped), so a hostile target cannot forge what an operator reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable

from streams.reference.text import safe


class StepFailed(Exception):
    """The step ran and did not succeed; ``str()`` is a short, escaped reason."""


HIDDEN_ENV = ("TOLLGUARD_SASL_PASSWORD", "TOLLGUARD_SASL_PASSWORD_FILE")


def child_env() -> dict:
    """The environment for programs we run: ours without the Kafka password."""
    return {k: v for k, v in os.environ.items() if k not in HIDDEN_ENV}


@dataclass(frozen=True)
class Exec:
    argv: tuple[str, ...]
    timeout: float = 10.0
    stdin: str | None = None
    ok_stderr: tuple[str, ...] = ()  # a failure whose stderr holds one of these counts as done (idempotence)

    def describe(self) -> str:
        out = "run " + json.dumps(list(self.argv))
        return out + (" with stdin " + json.dumps(self.stdin) if self.stdin is not None else "")

    def run(self) -> str:
        """Run; return what the program wrote on stdout, or :class:`StepFailed`."""
        try:
            p = subprocess.run(list(self.argv), input=self.stdin, capture_output=True, text=True,
                               timeout=self.timeout, env=child_env(), shell=False)
        except FileNotFoundError:
            raise StepFailed(f"no such program: {safe(self.argv[0], 200)}") from None
        except subprocess.TimeoutExpired:
            raise StepFailed(f"{safe(self.argv[0], 200)} did not finish within {self.timeout:g} s") from None
        except (OSError, ValueError) as exc:  # ValueError: a NUL in an argument
            raise StepFailed(f"cannot run {safe(self.argv[0], 200)}: {safe(str(exc), 200)}") from None
        if p.returncode != 0 and not any(s in p.stderr for s in self.ok_stderr):
            said = (p.stderr.strip() or p.stdout.strip()).splitlines()[-1:] or [""]
            raise StepFailed(f"{safe(self.argv[0], 200)} exited {p.returncode}: {safe(said[0], 300)}")
        return p.stdout


@dataclass(frozen=True)
class Http:
    method: str
    url: str
    body: dict
    headers: dict = field(default_factory=dict)
    timeout: float = 5.0
    secret_headers: tuple[str, ...] = ()  # shown as *** by describe

    def describe(self) -> str:
        shown = {k: ("***" if k in self.secret_headers else v) for k, v in self.headers.items()}
        return f"{self.method} {json.dumps(self.url)} headers {json.dumps(shown)} body {json.dumps(self.body)}"

    def run(self, opener: Callable = urllib.request.urlopen) -> str:
        data = json.dumps(self.body).encode()
        req = urllib.request.Request(self.url, data=data, method=self.method,
                                     headers={"Content-Type": "application/json", **self.headers})
        try:
            with opener(req, timeout=self.timeout) as resp:
                code = resp.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StepFailed(f"{self.method} {safe(self.url, 200)}: {safe(str(reason), 200)}") from None
        if not 200 <= code < 300:
            raise StepFailed(f"{self.method} {safe(self.url, 200)} answered {code}")
        return f"HTTP {code}"
