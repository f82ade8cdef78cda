"""Evaluation subcommands of ``ragqa`` (registered by :mod:`ragqa.cli`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {}


def add_commands(commands: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Evaluation commands are added here (see the evaluation issue)."""
