"""Command-line subcommands: demo (filled in by the demo work)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add this module's subcommands to the ``neurospell`` parser."""
