"""Command-line subcommands: acquisition (filled in by the acquisition work)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add this module's subcommands to the ``neurospell`` parser."""
