"""Every option and argument of every `scaisend` command says what it is for in `--help`:
the parser is walked, so a new option without help text fails here."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

from mta.server.cli.main import _parser


def commands(
    parser: argparse.ArgumentParser, path: str = "scaisend"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(`scaisend queue list`, its parser) for the program and every command under it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, f"{path} {name}")


def undescribed(parser: argparse.ArgumentParser) -> list[str]:
    """The options, arguments and subcommands of one parser that have no help text."""
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._SubParsersAction):
            missing += [f"{c.dest} (command)" for c in action._choices_actions if not c.help]
        elif not (action.help or "").strip():
            missing.append("/".join(action.option_strings) or action.dest)
    return missing


def test_every_option_of_every_command_has_help() -> None:
    found = dict(commands(_parser()))
    assert {"scaisend token", "scaisend queue list", "scaisend db revision"} <= set(found)
    missing = {path: names for path, parser in found.items() if (names := undescribed(parser))}
    assert missing == {}


def test_token_help_describes_each_option() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mta.server.cli.main", "token", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for option in ("--account", "--operator", "--role", "--ttl", "--config"):
        line = next(line for line in lines if line.strip().startswith(option))
        assert len(line.split()) > 2, f"{option} has no description: {line!r}"
