"""Command-line subcommands: lm (filled in by the lm work)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add this module's subcommands to the ``neurospell`` parser."""
