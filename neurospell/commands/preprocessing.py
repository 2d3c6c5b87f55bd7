"""Command-line subcommands: preprocessing (filled in by the preprocessing work)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add this module's subcommands to the ``neurospell`` parser."""
