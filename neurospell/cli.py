"""The ``neurospell`` command line.

Each group of subcommands lives in a module of :mod:`neurospell.commands` with a
``register(subparsers)`` function (cheap: heavy imports happen inside the handlers).
Handlers receive the parsed arguments and the loaded :class:`~neurospell.config.Config`
and return an exit code. Only the command line prints.

Order of a run, so that bad input fails before any work: parse (argparse ``type=``
checks, :mod:`neurospell.commands._args`), load and check the config, the command's
pre-flight ``check(args, config)``, then the handler. This module is the one place that
turns an error into a message (exit status 2; 130 on Ctrl-C; 143 on SIGTERM where a command
handles it like Ctrl-C, :mod:`neurospell.lifecycle`; 1 for an internal error), with a traceback
only at ``--verbose debug``. A command started by another neurospell process with
``$NEUROSPELL_PARENT_PID`` set ends when that process ends (:func:`~neurospell.lifecycle.watch_parent_from_env`).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import re
import sys
import warnings

from . import __version__
from .check import NeurospellError, StreamError
from .commands import _args
from .lifecycle import EXIT_SIGTERM, Terminated, watch_parent_from_env
from .logs import log_warning_line, logger, set_log_level

COMMAND_MODULES = ("acquisition", "preprocessing", "decoder", "lm", "demo", "simulate", "participant", "spell",
                   "gui", "timing")

#: Library messages are written for Python users; on the command line a few API words have
#: no meaning. (pattern, replacement) pairs applied to every message after the generic
#: ``name=`` -> ``--name`` translation of the command's own options (see :func:`cli_message`).
CLI_HINTS: tuple[tuple[str, str], ...] = (
    (r"Read it with load_recording, which maps speller markers to flash annotations\.",
     "Give a recording made by `neurospell record` or another speller session whose markers "
     "are flash markers (`neurospell inspect FILE` lists them)."),
    (r"Read a file with load_recording\(path\) first\.", "Give a recording file."),
    (r"^epochs_from_raw: ", ""),
    (r"\bpass overwrite=True\b", "pass --overwrite"),
    (r"\bparams\['file'\]", "the playback file"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neurospell",
        description="neurospell: a P300 brain-computer-interface speller (EEG in, text out).",
    )
    parser.add_argument("--version", action="version", version=f"neurospell {__version__}")
    parser.add_argument("--config", metavar="TOML", type=_args.input_file("config file"), help="config file (default: $NEUROSPELL_CONFIG or the shipped defaults)")
    parser.add_argument("-v", action="count", default=0, dest="verbose",
                        help="more log output (-v info, -vv debug, with tracebacks)")
    parser.add_argument("--verbose", choices=("warning", "info", "debug"), default=None, dest="verbose_level",
                        help="log level; 'debug' also prints the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"neurospell.commands.{name}")
        module.register(sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser:
    """The (sub)parser of the command that was given (``lm eval`` -> its own parser)."""
    current = parser
    for dest in ("command", "lm_command"):
        name = getattr(args, dest, None)
        actions = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if not name or not actions or name not in actions[0].choices:
            break
        current = actions[0].choices[name]
    return current


def cli_message(err: BaseException, command_parser: argparse.ArgumentParser | None = None) -> str:
    """An error's message in command-line words.

    Python keyword names of the command's options (``overwrite=True``, ``eeg_stream=``,
    ``the 'fmt' parameter``) become their flags; :data:`CLI_HINTS` rewrites API words.
    """
    if isinstance(err, OSError) and not str(err).startswith(("path", "--")) and err.strerror:
        text = f"{err.strerror}: {err.filename!r}" if err.filename else err.strerror
        if err.errno == errno.ENAMETOOLONG:
            text += ". Choose a shorter file name."
        elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            text += ". Choose a path you can write to, or fix the permissions."
        elif err.errno == errno.ENOSPC:
            text += ". Free disk space or write elsewhere."
        elif err.errno == errno.EISDIR:
            text += ". Give a file, not a folder."
        elif err.errno == errno.ENOENT:
            text += ". Check the path."
    else:
        text = str(err) or type(err).__name__
    if command_parser is not None:
        for action in command_parser._actions:
            flags = [o for o in action.option_strings if o.startswith("--")]
            if not flags or action.dest in ("help",):
                continue
            flag, dest = flags[0], action.dest
            text = re.sub(rf"\b{dest}=True\b", flag, text)
            text = re.sub(rf"\b{dest}=(?=\s)", flag, text)
            text = re.sub(rf"\b{dest}=", flag + " ", text)
            text = re.sub(rf"(the |for )?'{dest}' parameter", f"{flag}", text)
            if "_" in dest:  # a snake_case keyword is no English word: always the option
                text = re.sub(rf"(?<![\w./\[-]){dest}\b", flag, text)
    for pattern, repl in CLI_HINTS:
        text = re.sub(pattern, repl, text)
    return text


def main(argv=None) -> int:
    """Run the command line; return the exit status (0 ok, 2 bad input, 130 Ctrl-C, 143 SIGTERM, 1 internal error)."""
    watch_parent_from_env()
    shown = warnings.showwarning
    warnings.showwarning = log_warning_line  # a library's warning: one log line, no source path
    try:
        return _main(argv)
    except Terminated:
        print("\nneurospell: terminated (SIGTERM).", file=sys.stderr)
        return EXIT_SIGTERM
    except KeyboardInterrupt:
        print("\nneurospell: interrupted (Ctrl-C).", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = shown


def _main(argv) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a bad argument (2), message printed
        return exc.code if isinstance(exc.code, int) else 2
    level = args.verbose_level.upper() if args.verbose_level else {0: None, 1: "INFO"}.get(args.verbose, "DEBUG")
    set_log_level(level)
    debug = logger.getEffectiveLevel() <= logging.DEBUG
    command_parser = _subparser(parser, args)
    if not getattr(args, "func", None):
        command_parser.print_help(sys.stderr)
        return 2
    from .config import load_config

    def fail(err, status=2, parser=command_parser):
        if debug:
            logger.exception("neurospell %s failed", args.command)
        print(f"{command_parser.prog}: error: {cli_message(err, parser)}", file=sys.stderr)
        return status

    try:
        try:
            config = load_config(args.config)
        except (NeurospellError, OSError) as err:
            where = "--config" if args.config else "$NEUROSPELL_CONFIG"
            # a config key is no flag: not translated to the command's options
            return fail(NeurospellError(f"{where}: {cli_message(err)}"), parser=None)
        _args.check_config(config, args)
        config = _args.with_lm_path(config, getattr(args, "lm_path", None))  # --lm-path overrides [lm] path
        check = getattr(args, "check", None)
        if check is not None:
            check(args, config)
        return int(args.func(args, config) or 0)
    except (NeurospellError, StreamError, OSError) as err:
        return fail(err)
    except Exception as err:  # noqa: BLE001 - the one place that turns any error into a message
        if debug:
            return fail(err, 1)
        print(f"{command_parser.prog}: internal error: {type(err).__name__}: {cli_message(err, command_parser)}\n"
              "Run again with --verbose debug for the traceback, and report it.", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
