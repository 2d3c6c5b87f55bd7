"""Command-line subcommands: decoder (filled in by the decoder work)."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add this module's subcommands to the ``neurospell`` parser."""
