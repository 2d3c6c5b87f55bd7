"""Subcommand groups of the ``neurospell`` command line (see :mod:`neurospell.cli`)."""
