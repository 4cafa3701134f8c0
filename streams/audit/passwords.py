"""The guide's rules for credentials, judged without ever showing one.

Endpoint Security, "Use Complex Credentials for SIP Registration" and "Strong Password for Manual
Login": a registration password of at least 8 characters and a user password of at least 10, upper
case, lower case and digits mixed, no repeated or consecutive digits, neither the extension number
nor its name in it, and a registration name that is not the extension number. Shipped defaults
(FreeSWITCH's ``1234``, FreePBX's AMI ``amp111``) are named as defaults.
"""

from __future__ import annotations

REGISTRATION_MIN = 8
USER_MIN = 10
DEFAULTS = frozenset({"1234", "12345", "123456", "1234567", "12345678", "password", "secret", "admin", "amp111",
                      "cluecon", "changeme", "passw0rd", "default", "0000", "1111", "test", "asterisk", "freeswitch"})
RUN = 3  # digits: this many repeated (111) or consecutive (123, 987) in a row are refused


def weakness(secret: str, kind: str = "registration", extension: str | None = None,
             name: str | None = None) -> str | None:
    """Why ``secret`` breaks the guide's rules, in words that do not reveal it (None: it keeps them).

    ``kind``: ``registration`` (at least 8 characters) or ``user`` (at least 10)."""
    if secret is None:
        return None
    problems = []
    if secret.lower() in DEFAULTS:
        problems.append("a well-known default")
    minimum = USER_MIN if kind == "user" else REGISTRATION_MIN
    if len(secret) < minimum:
        problems.append(f"{len(secret)} characters, under {minimum}")
    classes = [any(c.isupper() for c in secret), any(c.islower() for c in secret), any(c.isdigit() for c in secret)]
    if not all(classes):
        problems.append(_classes(secret))
    if _runs(secret):
        problems.append("repeated or consecutive digits")
    for label, value in (("the extension number", extension), ("the extension's name", name)):
        if value and len(value) >= 2 and value.lower() in secret.lower():
            problems.append(f"contains {label}")
    if not problems:
        return None
    return "weak (" + "; ".join(dict.fromkeys(problems)) + ")"


def _classes(secret: str) -> str:
    if secret.isdigit():
        return "digits only"
    if secret.isalpha():
        return "letters only, no digits" if any(c.isupper() for c in secret) and any(c.islower() for c in secret) \
            else "one case of letters only"
    missing = [what for what, has in (("upper case", any(c.isupper() for c in secret)),
                                      ("lower case", any(c.islower() for c in secret)),
                                      ("digits", any(c.isdigit() for c in secret))) if not has]
    return "no " + " or ".join(missing)


def _runs(secret: str) -> bool:
    """A run of RUN digits that repeat (111) or go up or down by one (123, 321)."""
    for i in range(len(secret) - RUN + 1):
        part = secret[i:i + RUN]
        if not part.isdigit():
            continue
        steps = {int(b) - int(a) for a, b in zip(part, part[1:])}
        if len(steps) == 1 and steps.pop() in (-1, 0, 1):
            return True
    return False


def name_weakness(registration_name: str | None, extension: str | None) -> str | None:
    """The guide's example registration name is ``1DhZSD57bG``, not ``1000``: a name that is the extension
    number is the first thing a scanner tries."""
    if registration_name and extension and registration_name == extension:
        return "the registration (auth) name is the extension number"
    return None
