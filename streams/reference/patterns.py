"""The guide's number-pattern syntax ("Blocked Numbers", Outbound Call Security).

``X`` any digit, ``Z`` 1-9, ``N`` 2-9, ``[1-5,7]`` a set of digits and ranges, ``.`` one or
more of anything, ``!`` zero or more of anything; every other digit, ``+``, ``*`` and ``#`` is
literal. A pattern matches the whole number. Patterns are compiled once, when the policy
is loaded, into one alternation per tenant.

Matching takes time linear in the number whatever the policy says. Python's backtracking
engine is used while every pattern has at most one wildcard (``.`` or ``!``: it then cannot
take more than a pass per starting point); a set with more goes to RE2 (``google-re2``), an
automaton: ``X.X.X.X.X.1`` against a 256-digit number cost about 19 s per CDR with the
backtracking engine.
"""

from __future__ import annotations

import re

_CLASS = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}


class PatternError(ValueError):
    pass


def pattern_to_regex(pattern: str) -> str:
    """Translate one guide pattern to an anchored-by-caller regex body."""
    if not pattern or not pattern.strip():
        raise PatternError("empty number pattern")
    out: list[str] = []
    i = 0
    p = pattern.strip()
    while i < len(p):
        ch = p[i]
        up = ch.upper()
        if up in _CLASS:
            out.append(_CLASS[up])
        elif ch == ".":
            out.append(".+")
        elif ch == "!":
            out.append(".*")
        elif ch == "[":
            close = p.find("]", i)
            if close < 0:
                raise PatternError(f"unclosed '[' at position {i + 1} in {pattern!r}")
            out.append(_char_set(p[i + 1 : close], pattern))
            i = close
        elif ch.isdigit() or ch in "+*#":
            out.append(re.escape(ch))
        else:
            raise PatternError(f"unexpected {ch!r} at position {i + 1} in {pattern!r} "
                               "(allowed: digits + * # X Z N [..] . !)")
        i += 1
    return "".join(out)


def _char_set(body: str, pattern: str) -> str:
    parts = [x.strip() for x in body.split(",") if x.strip()]
    if not parts:
        raise PatternError(f"empty set [] in {pattern!r}")
    chars: list[str] = []
    for part in parts:
        # "1-5", "7", or "1-57" written without comma (Yeastar accepts [1-57])
        j = 0
        while j < len(part):
            c = part[j]
            if not c.isdigit():
                raise PatternError(f"only digits and ranges are allowed in [{body}] of {pattern!r}")
            if j + 2 < len(part) and part[j + 1] == "-":
                hi = part[j + 2]
                if not hi.isdigit() or hi < c:
                    raise PatternError(f"bad range {c}-{hi} in {pattern!r}")
                chars.append(f"{c}-{hi}")
                j += 3
            else:
                chars.append(c)
                j += 1
    return "[" + "".join(chars) + "]"


class PatternSet:
    """A tenant's number patterns, compiled into one alternation matched against whole numbers."""

    def __init__(self, patterns: list[str]):
        body = "|".join(f"(?:{pattern_to_regex(p)})" for p in patterns)
        self.patterns = list(patterns)
        self.engine = "re2" if any(_wildcards(p) > 1 for p in patterns) else "re"
        if self.engine == "re":
            self._match = re.compile(f"(?:{body})").fullmatch
        else:
            import re2  # google-re2: linear time, no backtracking
            options = re2.Options()
            options.log_errors = False
            self._match = re2.compile(f"(?:{body})", options).fullmatch

    def match(self, number: str) -> bool:
        return self._match(number) is not None


def _wildcards(pattern: str) -> int:
    return pattern.count(".") + pattern.count("!")


def compile_patterns(patterns: list[str]) -> PatternSet | None:
    """One compiled matcher for a list of patterns (None when the list is empty)."""
    if not patterns:
        return None
    return PatternSet(patterns)


def matches(pattern: str, number: str) -> bool:
    """Does one pattern match one number (used by tests and the CLI; rules use compile_patterns)."""
    rx = compile_patterns([pattern])
    return bool(rx and rx.match(number))
