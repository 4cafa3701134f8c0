"""The docs index and the troubleshooting page stay in step with the code (issue 30.5).

* every ``docs/*.md`` page is linked from ``docs/README.md``, and every relative link there resolves;
* every warning the code can log or print has its fixed text in ``docs/troubleshooting.md``.

The warnings are found by parsing ``streams/`` and ``models/`` with :mod:`ast`, not by grepping, so a
message split over lines, built from implicitly joined literals or written as an f-string is read as
Python reads it. What counts as a warning:

* ``<anything>.warning(MSG, ...)`` and ``<anything>.warn(MSG, ...)`` (loggers, ``logging.getLogger(..)``,
  ``warnings.warn``), and a name bound to such a method and then called (``say = log.warning if ...``);
* ``<logger>.log(LEVEL, MSG, ...)`` unless LEVEL is literally DEBUG or INFO (a variable level may be WARNING);
* ``print(MSG, ...)`` whose literal text says "warning" (any case);
* the texts of :data:`TEXT_SOURCES`: functions whose strings are printed or logged as warnings by a
  ``%s`` or ``{w}`` elsewhere (the policy's lint, enforce's never_block carve-outs, train's thin data).

From each message the fixed text is its literal pieces between format placeholders (``%s``, ``%.0f``,
``{x}`` in f-strings and ``.format``), each with the separators at its ends trimmed; every piece of at
least :data:`MIN_TEXT` characters must be on the page (whitespace runs count as one space, so the page
may wrap them). A message whose pieces are all shorter (``"console: %s of %s failed: %r"``) must be there
as its pieces in order, with a placeholder between. A message with no literal text at all
(``log.warning("%s", line)``) is a failure unless it is listed in :data:`DYNAMIC` with where its text
is documented instead.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"
TROUBLESHOOTING = DOCS / "troubleshooting.md"
SCANNED = ("streams", "models")
MIN_TEXT = 8        # shorter pieces ("channel ", " of ") say nothing by themselves
EDGES = " \t\n:;,"  # trimmed from a piece's ends: "%s: cannot read %s" looks for "cannot read"

# functions (path, name or None for the whole module) whose string results become warning lines
TEXT_SOURCES = [
    ("streams/policy/lint.py", None),                   # printed as "policy warning: {w}"
    ("streams/services/enforce/neverblock.py", "warnings"),  # logged by enforce as log.warning("%s", line)
    ("models/train.py", "thin_data"),                   # printed as "train: WARNING: {problem}; ..."
]

# warning calls whose message has no fixed text of its own: (path, enclosing function) -> why that is fine
DYNAMIC = {
    ("streams/services/enforce/__init__.py", "main"):
        "logs NeverBlock.warnings() lines, which TEXT_SOURCES checks",
}

PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")


@dataclass(frozen=True)
class Found:
    path: str
    line: int
    function: str
    pieces: tuple[str, ...]  # the literal text between placeholders; () when the message is not literal

    def texts(self) -> list[str]:
        """The fixed texts the troubleshooting page must hold: every literal piece of at least MIN_TEXT
        characters (the separators at its ends trimmed); [] when there is none."""
        pieces = [p.strip(EDGES) for p in self.pieces]
        return [p for p in pieces if len(p) >= MIN_TEXT]

    def pattern(self) -> str | None:
        """For a message all of whose pieces are short ("console: %s of %s failed: %r"): the pieces in
        their order with something (a placeholder such as ``<incident>``) between them; None when the
        message has long pieces (see texts) or no text at all."""
        short = [squash(p) for p in self.pieces]
        if self.texts() or not any(p.strip() for p in short):
            return None
        return r".{1,80}?".join(re.escape(p) for p in short if p)

    def needles(self) -> list[str]:
        """What the page is searched for, as the failure message names it."""
        return self.texts() or ([self.pattern()] if self.pattern() else [])

    def on(self, page: str) -> list[str]:
        """The needles missing from ``page``."""
        if self.texts():
            return [t for t in self.texts() if squash(t) not in page]
        pattern = self.pattern()
        if pattern is None or re.search(pattern, page):
            return []
        return ["<…>".join(self.pieces) + " (these pieces, in this order)"]

    def where(self) -> str:
        return f"{self.path}:{self.line} ({self.function})"


def pieces_of(node: ast.AST) -> tuple[str, ...] | None:
    """The literal pieces of a message expression, split at its placeholders; None if it is not a string
    built from literals (a variable, a call such as json.dumps)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return tuple(p for p in PRINTF.split(node.value.replace("%%", "%")))
    if isinstance(node, ast.JoinedStr):
        out, cur = [], ""
        for v in node.values:
            if isinstance(v, ast.Constant):
                cur += str(v.value)
            else:
                out.append(cur)
                cur = ""
        return (*out, cur)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = pieces_of(node.left), pieces_of(node.right)
        if left is None and right is None:
            return None
        left, right = left or ("",), right or ("",)
        return (*left[:-1], left[-1] + right[0], *right[1:])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):  # "text %s" % (x,)
        return pieces_of(node.left)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)):
        return tuple(re.split(r"\{[^{}]*\}", node.func.value.value))
    return None


def _literal_text(node: ast.AST) -> str:
    return "".join(pieces_of(node) or ())


def _is_warning_method(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in ("warning", "warn")


def _quiet_level(node: ast.AST) -> bool:
    """True when a .log() level is literally below WARNING (logging.DEBUG, logging.INFO, 10, 20)."""
    if isinstance(node, ast.Attribute):
        return node.attr in ("DEBUG", "INFO")
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value < 30
    return False


class _Finder(ast.NodeVisitor):
    def __init__(self, path: str):
        self.path, self.found, self.stack = path, [], ["<module>"]
        self.aliases: list[set[str]] = [set()]  # names bound to a .warning method, per function

    def _function(self, node):
        self.stack.append(node.name)
        self.aliases.append(set())
        self.generic_visit(node)
        self.aliases.pop()
        self.stack.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_Assign(self, node: ast.Assign):
        if any(_is_warning_method(n) for n in ast.walk(node.value)):
            self.aliases[-1].update(t.id for t in node.targets if isinstance(t, ast.Name))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call):
        msg = None
        f = node.func
        if _is_warning_method(f) and node.args:
            msg = node.args[0]
        elif (isinstance(f, ast.Attribute) and f.attr == "log" and len(node.args) >= 2
              and not _quiet_level(node.args[0]) and not (isinstance(f.value, ast.Name) and f.value.id == "math")):
            msg = node.args[1]
        elif isinstance(f, ast.Name) and f.id in self.aliases[-1] and node.args:
            msg = node.args[0]
        elif (isinstance(f, ast.Name) and f.id == "print" and node.args
              and "warning" in _literal_text(node.args[0]).lower()):
            msg = node.args[0]
        if msg is not None:
            self.found.append(Found(self.path, node.lineno, self.stack[-1], pieces_of(msg) or ()))
        self.generic_visit(node)


def warning_calls() -> list[Found]:
    found = []
    for top in SCANNED:
        for file in sorted((ROOT / top).rglob("*.py")):
            rel = file.relative_to(ROOT).as_posix()
            finder = _Finder(rel)
            finder.visit(ast.parse(file.read_text(), rel))
            found += finder.found
    return found


def source_texts() -> list[Found]:
    """The strings TEXT_SOURCES build, as warnings of their own."""
    out = []
    for rel, name in TEXT_SOURCES:
        tree = ast.parse((ROOT / rel).read_text(), rel)
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        scopes = [tree] if name is None else [n for n in functions if n.name == name]
        assert scopes, f"{rel}: no function {name!r} (TEXT_SOURCES is out of date)"
        for scope in scopes:
            for node in ast.walk(scope):
                if isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                    w = Found(rel, getattr(node, "lineno", 0), name or "<module>", pieces_of(node) or ())
                    # docstrings, keys and joiners are not message text: only pieces long enough to be one
                    if w.texts() and not _is_docstring(scope, node) and not _inside_fstring(scope, node):
                        out.append(w)
    return out


def _inside_fstring(scope: ast.AST, node: ast.AST) -> bool:
    """A literal piece of an f-string (read with the f-string itself) or a string inside one of its
    placeholders (a joiner such as ", ")."""
    return any(isinstance(n, ast.JoinedStr) and n is not node and any(c is node for c in ast.walk(n))
               for n in ast.walk(scope))


def _is_docstring(scope: ast.AST, node: ast.AST) -> bool:
    for n in ast.walk(scope):
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body:
            first = n.body[0]
            if isinstance(first, ast.Expr) and first.value is node:
                return True
    return False


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


# -- the scanner itself --------------------------------------------------------------------------------

def _scan(code: str) -> list[Found]:
    finder = _Finder("x.py")
    finder.visit(ast.parse(code))
    return finder.found


def test_the_scanner_reads_every_form_of_warning():
    code = '''
import logging, warnings
log = logging.getLogger("x")
def f(n):
    log.warning("%s: %d keys evicted over the budget of %d per partition: "
                "the oldest go first", "ip", n, 3)
    logging.getLogger("y").warning(f"partition {n} was left out of fetching for a while")
    warnings.warn("a deprecated thing is used here, stop it")
    log.log(logging.WARNING, "skipped (%s): %s", "refused", n)
    log.log(logging.INFO, "not a warning at all, this one is info")
    log.info("nor is this one, it is only information")
    say = log.warning if n else log.info
    say("model: scoring with %s; %s", n, n)
    print(f"blocks: WARNING: {n} not read to its end")
    print("an ordinary line that warns of nothing")
    log.warning("%s", n)
    log.warning("console: %s of %s failed: %r", n, n, n)
'''
    found = _scan(code)
    assert found[-1].on("console: <what> of <incident> failed: <error>") == []
    assert found[-1].on("console: failed: of") != []
    found.pop()
    texts = [w.texts() for w in found]
    assert texts == [["keys evicted over the budget of", "per partition: the oldest go first"],
                     ["partition", "was left out of fetching for a while"],
                     ["a deprecated thing is used here, stop it"], ["skipped ("], ["model: scoring with"],
                     ["blocks: WARNING", "not read to its end"], []]


# -- docs/README.md ------------------------------------------------------------------------------------

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def index_links() -> list[str]:
    return [m.group(1) for m in LINK.finditer(INDEX.read_text())]


def test_every_docs_page_is_in_the_index():
    linked = {(DOCS / unquote(t.split("#", 1)[0])).resolve() for t in index_links() if "://" not in t}
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if p != INDEX and p.resolve() not in linked]
    assert not missing, f"docs/README.md does not link {missing}"


def test_every_link_in_the_index_resolves():
    links = [t for t in index_links() if "://" not in t and not t.startswith(("#", "mailto:"))]
    assert len(links) >= 10, f"docs/README.md holds only {len(links)} relative links; was it emptied?"
    broken = [t for t in links if not (DOCS / unquote(t.split("#", 1)[0])).exists()]
    assert not broken, f"docs/README.md links to files that do not exist: {broken}"


# -- docs/troubleshooting.md ---------------------------------------------------------------------------

def test_the_scan_finds_the_warnings_we_know_of():
    """A guard on the scanner: if a refactor hid the warnings from it, the page test would pass on nothing."""
    found = {t for w in warning_calls() for t in w.texts()}
    assert len(found) >= 40, f"only {len(found)} warning texts found in {SCANNED}: is the scanner broken?"
    for known in ("keys evicted over the budget of", "policy warning", "blocks: WARNING", "train: WARNING",
                  "model: scoring with", "skipped ("):
        assert known in found, f"the scanner missed {known!r}"
    assert any("benign calls (want" in t for w in source_texts() for t in w.texts())


def test_every_warning_the_code_can_print_is_in_troubleshooting():
    page = squash(TROUBLESHOOTING.read_text())
    calls = warning_calls()
    unexplained = [w.where() for w in calls if not w.needles() and (w.path, w.function) not in DYNAMIC]
    assert not unexplained, ("warnings with no fixed text to look for (give them one, or list them in DYNAMIC "
                             f"with where their text is documented): {unexplained}")
    stale = [k for k in DYNAMIC if not any((w.path, w.function) == k and not w.needles() for w in calls)]
    assert not stale, f"DYNAMIC lists calls that are gone or now have text: {stale}"
    missing = sorted({f"{t!r} ({w.where()})" for w in calls + source_texts() for t in w.on(page)})
    assert not missing, ("docs/troubleshooting.md does not explain these warnings (add an entry with the text "
                         "as the operator sees it, what it means and what to do):\n  " + "\n  ".join(missing))


# -- README.md: the way in, and the command table ------------------------------------------------------

README = ROOT / "README.md"
NOT_IN_TABLE_YET: dict = {}  # a command whose row is still to come, with why


def command_table(text: str) -> str:
    return text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]


def test_readme_points_at_the_docs_index_under_two_commands():
    two = README.read_text().split("\n## Two commands\n", 1)[1].split("\n## ", 1)[0]
    assert "(docs/README.md)" in two, "README.md's 'Two commands' section does not link docs/README.md"


def test_readme_command_table_lists_every_command():
    from streams.cli import COMMANDS
    table = command_table(README.read_text())
    missing = [c for c in COMMANDS if f"`tollguard {c}" not in table and c not in NOT_IN_TABLE_YET]
    assert not missing, f"README.md's command table has no row for: {missing}"
