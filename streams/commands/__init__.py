"""Command-line tools built on the other layers: produce, export, alerts, soc, ranges, evaluate,
simulate and tail. ``streams.cli`` assembles ``tollguard``'s command line."""
