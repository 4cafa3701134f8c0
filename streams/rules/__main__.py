"""``python -m streams.rules``: print docs/rules.md from the rule modules."""

import sys

from . import SPECS
from .contract import markdown

sys.stdout.write(markdown(SPECS))
