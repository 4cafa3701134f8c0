"""docs/enforce.md keeps up with the code: its enforce.yaml examples load, and it names every top-level key,
every command placeholder and every network that is never blocked (issue 25.3)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from streams.services.enforce.backends.command import FIELDS
from streams.services.enforce.neverblock import ALWAYS, DEFAULTS
from streams.services.enforce.settings import TOP, Settings
from streams.policy.yamlfile import load_text

ROOT = Path(__file__).resolve().parents[4]
DOC = (ROOT / "docs" / "enforce.md").read_text()
EXAMPLES = [b for b in re.findall(r"```yaml\n(.*?)```", DOC, re.S) if re.search(r"^backends:", b, re.M)]


def test_the_doc_has_an_enforce_yaml_example():
    assert EXAMPLES


@pytest.mark.parametrize("block", EXAMPLES)
def test_every_enforce_yaml_example_in_the_doc_loads(block):
    raw, lines = load_text(block, "docs/enforce.md")          # the strict reader enforce uses
    s = Settings.parse(raw, "docs/enforce.md", lines, host=lambda: frozenset())
    assert s.backends


@pytest.mark.parametrize("key", sorted(TOP))
def test_every_top_level_key_is_in_the_table(key):
    assert re.search(rf"^\| `{key}` \|", DOC, re.M), f"docs/enforce.md has no table row for `{key}`"


@pytest.mark.parametrize("field", FIELDS)
def test_every_command_placeholder_is_documented(field):
    assert f"`{{{field}}}`" in DOC


@pytest.mark.parametrize("net", [*ALWAYS, *DEFAULTS])
def test_every_never_blocked_network_is_named(net):
    assert f"`{net}`" in DOC


def test_no_row_says_never_block_defaults_to_empty():
    """never_block adds to a list that is never empty (loopback, multicast, the host, the defaults)."""
    assert not re.search(r"^\| `never_block` \| `\[\]` \|", DOC, re.M)
