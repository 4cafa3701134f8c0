"""``python -m streams.rules``: print docs/rules.md from the rule modules."""

import sys

from streams.rules import SPECS
from streams.rules.contract import markdown

sys.stdout.write(markdown(SPECS))
