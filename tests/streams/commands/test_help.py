"""Every command's help explains every option and argument, and the commands that reach Kafka name its settings."""

import argparse

import pytest

from streams.cli import COMMANDS, OFFLINE, build_parser


def parsers(cmd: str):
    """The command's parser and those of its own subcommands (``model publish``, ``console user add``)."""
    ap = build_parser([cmd])
    todo = [next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction)).choices[cmd]]
    while todo:
        p = todo.pop()
        yield p
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                todo.extend(a.choices.values())


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_option_and_argument_has_help(cmd):
    bare = [f"{p.prog}: {a.option_strings or a.dest}" for p in parsers(cmd) for a in p._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and not a.help]
    assert not bare, f"no help text: {bare}"


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if c not in OFFLINE])
def test_the_kafka_commands_name_the_broker_and_prefix_settings(cmd):
    text = next(parsers(cmd)).format_help()
    assert "TOLLGUARD_BROKER" in text and "TOLLGUARD_TOPIC_PREFIX" in text


def test_replay_says_what_it_reads():
    text = next(parsers("replay")).format_help()
    assert "CDR exports" in text and "security logs" in text and "--input" in text
