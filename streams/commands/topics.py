"""``tollguard topics``: the Kafka topics tollguard uses, checked or created (streams.kafka.topics)."""

from __future__ import annotations

import argparse

HELP = "list the Kafka topics tollguard uses, check or create them"


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true", help="exit 1 and name the ones missing on the cluster")
    g.add_argument("--create", action="store_true", help="create the missing ones (needs topic-CREATE rights)")


def main(args) -> int:
    from streams.kafka.topics import main as topics
    return topics(args)
