"""The ``neurospell`` command line.

Each group of subcommands lives in a module of :mod:`neurospell.commands` with a
``register(subparsers)`` function (cheap: heavy imports happen inside the handlers).
Handlers receive the parsed arguments and the loaded :class:`~neurospell.config.Config`
and return an exit code. Only the command line prints.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .check import NeurospellError, ProvenanceError, StreamError
from .logs import logger, set_log_level

COMMAND_MODULES = ("acquisition", "preprocessing", "decoder", "lm", "demo", "simulate")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurospell",
        description="neurospell: a P300 brain-computer-interface speller (EEG in, text out).",
    )
    parser.add_argument("--version", action="version", version=f"neurospell {__version__}")
    parser.add_argument("--config", metavar="TOML", help="config file (default: $NEUROSPELL_CONFIG or the shipped defaults)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"neurospell.commands.{name}")
        module.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    set_log_level({0: None, 1: "INFO"}.get(args.verbose, "DEBUG"))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .config import load_config

    try:
        config = load_config(args.config)
        return int(args.func(args, config) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except (NeurospellError, ProvenanceError, StreamError, FileNotFoundError, FileExistsError, PermissionError, TypeError) as err:
        logger.debug("command failed", exc_info=True)
        print(f"neurospell {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
