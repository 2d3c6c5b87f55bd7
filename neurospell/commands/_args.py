"""Argument checks of the command line, in one place for every subcommand.

Two kinds, both run before any work is done:

- ``type=`` callables for ``add_argument`` (:func:`number`, :func:`input_file`,
  :func:`text_file`, :func:`recording_file`, :func:`model_file`, :func:`lm_name`,
  :func:`board_spec`): argparse reports a failure as
  ``neurospell CMD: error: argument --FLAG: MESSAGE`` with exit status 2;
- pre-flight checks that need several options or the config together (output paths and
  ``--overwrite``, pairings of options, names in the config): the ``check_*`` functions,
  attached to a subcommand with ``set_defaults(check=...)`` and called by
  :func:`neurospell.cli.main` after the config is loaded. They raise :class:`UsageError`.

Every message names the flag, says what is allowed, echoes what was given and what to do.
Stage registries are imported only when a name has to be checked (the parser builds fast).
"""

from __future__ import annotations

import argparse
import codecs
import dataclasses
import errno
import importlib.util
import math
import os
import re
from pathlib import Path

from ..check import NeurospellError

__all__ = [
    "UsageError", "number", "input_file", "input_folder", "text_file", "recording_file",
    "model_file", "lm_name", "check_decoder_name", "board_spec", "check_output_file",
    "check_output_folder", "check_config", "check_lm_choice",
]

#: Suffixes of the formats `neurospell record --export` writes (kept equal to the recorder's).
EXPORT_SUFFIXES = {"edf": ".edf", "brainvision": ".vhdr"}
RAWLOG_SUFFIX = ".nsraw"


class UsageError(NeurospellError):
    """A command-line argument or option combination is invalid (exit status 2)."""

    def __init__(self, option: str, message: str):
        self.option = option
        super().__init__(f"{option}: {message}")


# ----------------------------------------------------------------------------- numbers

def number(kind=float, *, min=None, max=None, strict_min=False, unit: str = ""):  # noqa: A002
    """An argparse ``type=`` for an int or a finite float in a range.

    Parameters
    ----------
    kind : type
        ``int`` or ``float``.
    min, max : float | None
        Inclusive bounds (``min`` exclusive with ``strict_min``).
    unit : str
        Shown after the range (e.g. ``"seconds"``).
    """
    what = "an integer" if kind is int else "a number"
    parts = []
    if min is not None:
        parts.append(f"{'>' if strict_min else '>='} {min:g}")
    if max is not None:
        parts.append(f"<= {max:g}")
    desc = what + (" " + " and ".join(parts) if parts else "") + (f" ({unit})" if unit else "")

    def parse(text):
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected {desc}, got {text!r}.") from None
        bad = not math.isfinite(value)
        if min is not None:
            bad = bad or value < min or (strict_min and value == min)
        if max is not None:
            bad = bad or value > max
        if bad:
            raise argparse.ArgumentTypeError(f"must be {desc}, got {text!r}. Give a value in that range.")
        return value

    parse.__name__ = desc
    return parse


# ------------------------------------------------------------------------------- paths

def _name_max(folder: Path) -> int:
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):  # pragma: no cover - platforms without pathconf
        return 255


def _existing_ancestor(path: Path) -> Path:
    p = path.absolute()
    while p != p.parent:
        try:
            if p.exists():
                break
        except OSError:  # a name too long for the file system
            pass
        p = p.parent
    return p


def name_length_problem(path) -> str | None:
    """Why ``path`` cannot exist on this file system because of its length, or ``None``."""
    path = Path(path)
    limit = _name_max(_existing_ancestor(path))
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            return (f"the name {part[:40]!r}... is {len(os.fsencode(part))} bytes long; this file system "
                    f"allows at most {limit} bytes per name. Choose a shorter name")
    if len(os.fsencode(str(path.absolute()))) >= 4096:
        return "the path is longer than the 4096 bytes the system allows. Choose a shorter path"
    return None


def _type_error(text: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(text)


def _existing(text, kind: str) -> Path:
    """Common part of the input-path types: name length, existence, file vs folder, readable."""
    if not text:
        raise _type_error(f"expected a path to a {kind}, got an empty string.")
    path = Path(text).expanduser()
    problem = name_length_problem(path)
    if problem:
        raise _type_error(f"{problem}: {text[:60]!r}...")
    if not path.exists():
        raise _type_error(f"the {kind} {text!r} does not exist. Check the path.")
    if not os.access(path, os.R_OK):
        raise _type_error(f"the {kind} {text!r} is not readable (permissions). Fix its permissions or copy it.")
    return path


def input_file(what: str = "file"):
    """An argparse ``type=``: an existing, readable regular file (``what`` names it in messages)."""

    def parse(text):
        path = _existing(text, what)
        if path.is_dir():
            raise _type_error(f"{text!r} is a folder; give the path of a {what} inside it.")
        return str(path)

    parse.__name__ = what
    return parse


def input_folder(what: str = "folder"):
    """An argparse ``type=``: an existing, readable folder."""

    def parse(text):
        path = _existing(text, what)
        if not path.is_dir():
            raise _type_error(f"{text!r} is a file; give a {what}.")
        return str(path)

    parse.__name__ = what
    return parse


def _text_problem(path: Path, limit: int = 1 << 16) -> str | None:
    with open(path, "rb") as fid:
        head = fid.read(limit)
    nul = head.find(b"\x00")
    if nul >= 0:
        return f"holds binary data (a NUL byte at byte {nul})"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as err:
        return f"is not UTF-8 text (undecodable byte at {err.start})"
    return None


def text_file(text):
    """An argparse ``type=``: an existing UTF-8 text file (no NUL bytes in its first 64 KiB)."""
    path = Path(input_file("text file")(text))
    problem = _text_problem(path)
    if problem:
        raise _type_error(f"{text!r} {problem}; give a UTF-8 text file, one phrase per line.")
    return str(path)


text_file.__name__ = "text file"


#: What marks a neurospell session folder (kept equal to neurospell.session.sessiondir).
SESSION_MARKER = Path("derivatives") / "neurospell" / "session.json"


def is_session_folder(path) -> bool:
    """Whether ``path`` is a neurospell session folder (written by a live session)."""
    return (Path(path) / SESSION_MARKER).is_file()


def recording_file(text):
    """An argparse ``type=``: a recording file, a neurospell ``.nsraw`` recording folder, or a
    session folder (``neurospell replay SESSION_DIR``)."""
    path = _existing(text, "recording")
    if path.is_dir():
        if is_session_folder(path):
            return str(path)
        if path.name.endswith(RAWLOG_SUFFIX):
            if not (path / "header.json").is_file():
                raise _type_error(
                    f"{text!r} is a {RAWLOG_SUFFIX} folder without header.json: it holds no neurospell "
                    "recording (empty or damaged). Give another recording.")
            return str(path)
        raise _type_error(
            f"{text!r} is a folder but neither a neurospell {RAWLOG_SUFFIX} recording nor a session folder "
            f"(no {SESSION_MARKER}); give a recording file (FIF, EDF/BDF, .vhdr, .set, .xdf, BrainFlow "
            f".csv, g.tec .mat, .gdf, BCI2000 .dat), a {RAWLOG_SUFFIX} folder or a session folder.")
    if path.stat().st_size == 0:
        raise _type_error(f"the file {text!r} is empty (0 bytes); give a recording.")
    return str(path)


recording_file.__name__ = "recording"


def model_file(text):
    """An argparse ``type=``: a model file written by ``neurospell train`` (a pickle)."""
    path = Path(input_file("model file")(text))
    with open(path, "rb") as fid:
        head = fid.read(2)
    if len(head) < 2 or head[0] != 0x80:
        raise _type_error(
            f"{text!r} is not a model written by `neurospell train` (not a pickle file). "
            "Give the MODEL file that `neurospell train --out MODEL` wrote.")
    return str(path)


model_file.__name__ = "model file"


def check_output_file(option: str, text, *, overwrite: bool | None = False,
                      overwrite_flag: str = "--overwrite", suffixes: tuple[str, ...] = ()) -> Path:
    """Check a file about to be written: name length, its folder exists and is writable, not a folder.

    Parameters
    ----------
    option : str
        The flag (``"--out"``) or argument name shown in messages.
    text : str
        The path given.
    overwrite : bool | None
        ``False``: an existing file is an error naming ``overwrite_flag``; ``True`` or ``None``
        (the command always replaces it): allowed.
    suffixes : tuple of str
        Allowed endings (empty: any).
    """
    if not text:
        raise UsageError(option, "expected a file path, got an empty string.")
    path = Path(text).expanduser()
    if suffixes and not any(path.name.lower().endswith(s) for s in suffixes):
        raise UsageError(option, f"the file name must end with {' or '.join(suffixes)}, got {text!r}.")
    problem = name_length_problem(path)
    if problem:
        raise UsageError(option, f"{problem}.")
    if path.is_dir():
        raise UsageError(option, f"{text!r} is a folder; give a file name (e.g. {str(path / 'out')!r}...).")
    if path.exists() and overwrite is False:
        raise UsageError(option, f"{text!r} already exists. Pass {overwrite_flag} to replace it, or choose "
                                 "another name.")
    _check_writable_parent(option, path)
    return path


def check_output_folder(option: str, text) -> Path:
    """Check a folder about to be written into (created if missing): name length, writable."""
    path = Path(text).expanduser()
    problem = name_length_problem(path)
    if problem:
        raise UsageError(option, f"{problem}.")
    if path.exists() and not path.is_dir():
        raise UsageError(option, f"{text!r} is a file; give a folder.")
    if path.is_dir():
        _probe(option, path)
    else:
        _check_writable_parent(option, path)
    return path


def _check_writable_parent(option: str, path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise UsageError(option, f"the folder {str(parent)!r} of {str(path)!r} does not exist. Create it "
                                 "first or choose another path.")
    if not parent.is_dir():
        raise UsageError(option, f"{str(parent)!r} is a file, not a folder, so {str(path)!r} cannot be "
                                 "written. Choose another path.")
    _probe(option, parent)


def _probe(option: str, folder: Path) -> None:
    """os.access says yes to root even on read-only mounts: create and remove a file."""
    probe = folder / f".neurospell-write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise UsageError(option, f"cannot write in the folder {str(folder)!r} ({err.strerror or err}). "
                                 "Choose a writable folder.") from None


# ------------------------------------------------------------------------------- names

def _lm_names() -> list[str]:
    from neurospell.lm_fusion import available_models

    return sorted(available_models())


def lm_name_problem(name: str) -> str | None:
    """Why ``name`` is not a language-model name (``a+b`` mixtures allowed), or ``None``."""
    allowed = _lm_names()
    parts = [p.strip() for p in str(name).split("+")]
    bad = [p for p in parts if p not in allowed]
    if not bad:
        return None
    return (f"unknown language model {', '.join(map(repr, bad))}. Allowed: {', '.join(allowed)}, or "
            f"several joined by '+' (e.g. 'transformer+ngram'); `neurospell lm list` describes them")


def lm_name(text):
    """An argparse ``type=``: a registered language-model name, or names joined by ``+``."""
    problem = lm_name_problem(text)
    if problem:
        raise _type_error(f"{problem}. Got {text!r}.")
    return text


lm_name.__name__ = "language model"


#: Model files `lm eval --lm` accepts, and the registered model that reads each.
LM_FILE_SUFFIXES = {".npz": "ngram", ".pt": "transformer"}


def lm_name_or_file(text):
    """An argparse ``type=``: a language-model name (see :func:`lm_name`) or a model file
    (``.npz`` n-gram of ``lm build-ngram``, ``.pt`` transformer weights of ``lm train``)."""
    suffix = Path(text).suffix
    if suffix in LM_FILE_SUFFIXES:
        return input_file(f"{LM_FILE_SUFFIXES[suffix]} model file")(text)
    if lm_name_problem(text) is None:
        return text
    raise _type_error(f"{lm_name_problem(text)}; or a model file (FILE.npz n-gram, FILE.pt transformer). "
                      f"Got {text!r}.")


lm_name_or_file.__name__ = "language model"


def named_text_file(text):
    """An argparse ``type=``: ``NAME=FILE``, a set name and a UTF-8 text file."""
    name, sep, fname = str(text).partition("=")
    if not sep or not name.strip() or not fname:
        raise _type_error(f"expected NAME=FILE (e.g. requests=test_requests.txt), got {text!r}.")
    return name.strip(), text_file(fname)


named_text_file.__name__ = "NAME=FILE"


def check_decoder_name(option: str, name: str, hint: str = "") -> None:
    """A registered decoder name. Loads torch (the registry): call it after the cheap checks."""
    from neurospell.decoder import list_decoders

    allowed = list_decoders()
    if name not in allowed:
        raise UsageError(option, f"unknown decoder {name!r}. Allowed values are "
                                 f"{', '.join(map(repr, allowed))}.{hint}")


def _playback_problem(file: str, master_board="synthetic") -> str | None:
    """Why BrainFlow cannot play ``file`` back (checked on its first line), or ``None``."""
    from brainflow.board_shim import BoardShim

    from neurospell.acquisition import resolve_board_id

    path = Path(file).expanduser()
    if not path.exists():
        return f"the playback file {file!r} does not exist. Check the path"
    if not path.is_file():
        return f"the playback file {file!r} is a folder; give a BrainFlow data file (.csv)"
    if _text_problem(path):
        return f"the playback file {file!r} is not a BrainFlow data file (it is not text)"
    with open(path, encoding="utf-8", errors="replace") as fid:
        first = fid.readline().strip()
    if not first:
        return f"the playback file {file!r} is empty"
    cells = first.split("\t")
    try:
        [float(c) for c in cells]
    except ValueError:
        return (f"the playback file {file!r} is not a BrainFlow data file (its first line is not "
                f"tab-separated numbers: {first[:40]!r})")
    board_id = resolve_board_id(master_board)
    n_rows = BoardShim.get_num_rows(board_id)
    if len(cells) != n_rows:
        return (f"the playback file {file!r} has {len(cells)} columns, but a recording of board "
                f"{master_board!r} has {n_rows}. Give a file BrainFlow wrote for that board, or set "
                "[acquisition] board_params.master_board in the config")
    return None


def board_spec_problem(spec: str, acquisition=None) -> str | None:
    """Why ``spec`` is not a source spec (see :func:`neurospell.acquisition.open_source`), or ``None``."""
    text = str(spec).strip()
    allowed = "'synthetic', 'playback:FILE', a BrainFlow board name or id, or 'lsl:NAME'"
    if not text:
        return f"expected {allowed}, got an empty string"
    low = text.lower()
    if low.startswith("lsl:"):
        if not text[4:].split("+", 1)[0]:
            return f"give the LSL stream name after 'lsl:' (e.g. 'lsl:MyAmp'), got {spec!r}"
        return None
    if low.startswith("playback:"):
        master = "synthetic" if acquisition is None else acquisition.board_params.get("master_board", "synthetic")
        return _playback_problem(text.split(":", 1)[1], master)
    if low == "playback":
        return "give the file to play back: 'playback:FILE'"
    from neurospell.acquisition import resolve_board_id

    try:
        resolve_board_id(text)
    except NeurospellError:
        return (f"unknown board {spec!r}; expected {allowed}. `neurospell devices --all-boards` lists "
                "the BrainFlow names and ids")
    return None


def board_spec(text):
    """An argparse ``type=``: a source spec (synthetic, playback:FILE, board name/id, lsl:NAME)."""
    problem = board_spec_problem(text)
    if problem:
        raise _type_error(problem + ".")
    return text


board_spec.__name__ = "board"


# --------------------------------------------------------------------- pre-flight checks

def config_source(args) -> str:
    """Where the config came from, for messages."""
    path = getattr(args, "config", None) or os.environ.get("NEUROSPELL_CONFIG")
    return f"the config file {path!r}" if path else "the shipped defaults"


def check_config(config, args) -> None:
    """Names in the config that the registries must know, checked at load (before any command).

    ``[lm] name`` is checked for every command (cheap); ``[decoder] name`` by the commands that
    read it (``train``).
    """
    problem = lm_name_problem(config.lm.name)
    if problem:
        raise UsageError(f"[lm] name in {config_source(args)}", f"{problem}. Fix the config file.")


def check_lm_choice(option: str, name: str, lm_path: str | None, config, args) -> None:
    """``hf`` needs a model folder: ``--lm-path`` or ``[lm] path``; a path needs ``hf``."""
    parts = [p.strip() for p in name.split("+")]
    if "hf" in parts:
        path = lm_path or config.lm.path
        if not path:
            raise UsageError(option, "the 'hf' language model needs a local model folder: pass --lm-path "
                                     "FOLDER (a folder saved with save_pretrained) or set [lm] path in "
                                     "the config.")
        if not Path(path).expanduser().is_dir():
            where = "--lm-path" if lm_path else f"[lm] path in {config_source(args)}"
            raise UsageError(where, f"the Hugging Face model folder {path!r} does not exist or is not a "
                                    "folder. Check the path.")
    elif lm_path:
        raise NeurospellError(f"--lm-path applies to --lm hf only (a Hugging Face model folder), but the "
                              f"language model is {name!r}. Drop --lm-path or use --lm hf.")


def with_lm_path(config, lm_path):
    """The config with ``[lm] path`` replaced by ``--lm-path`` (when given)."""
    if not lm_path:
        return config
    return dataclasses.replace(config, lm=dataclasses.replace(config.lm, path=str(lm_path)))


def is_name_too_long(err: OSError) -> bool:
    return getattr(err, "errno", None) == errno.ENAMETOOLONG


def check_model_matches_recording(decoder, raw, preprocess) -> None:
    """Refuse a model trained on other channels or another sampling rate before replaying.

    Compares the model's provenance with the recording's EEG channels and rate (what the
    batch replay will epoch), so that a mismatch is reported before minutes of replay.
    """
    from ..check import ProvenanceError

    prov = getattr(decoder, "provenance_", None) or {}
    diffs = []
    eeg = [n for n, t in zip(raw.ch_names, raw.get_channel_types(), strict=True) if t == "eeg"]
    if "ch_names" in prov and list(prov["ch_names"]) != eeg:
        diffs.append(f"EEG channels: model {list(prov['ch_names'])} vs recording {eeg}")
    sfreq = float(raw.info["sfreq"])
    if preprocess.resample_sfreq is None and "sfreq" in prov and not math.isclose(
            sfreq, float(prov["sfreq"]), rel_tol=1e-6):
        diffs.append(f"sampling rate: model {prov['sfreq']:g} Hz vs recording {sfreq:g} Hz")
    if diffs:
        raise ProvenanceError(
            "--decoder: the model was trained for another pipeline than this recording ("
            + "; ".join(diffs) + "). Train a model on recordings like this one (`neurospell train`).")


# ------------------------------------------------------------ per-command pre-flight checks
# Attached with ``set_defaults(check=...)``; called as ``check(args, config)`` by the CLI.

def check_stream(args, config) -> None:
    spec = args.board if args.board is not None else config.acquisition.source
    option = "--board" if args.board is not None else f"[acquisition] source in {config_source(args)}"
    problem = board_spec_problem(spec, config.acquisition)
    if problem:
        raise UsageError(option, problem + ".")
    if spec.strip().lower().startswith("lsl:"):
        raise UsageError(option, f"'stream' republishes a device on LSL; {spec!r} is already an LSL "
                                 "stream. Give a board ('synthetic', 'playback:FILE', a BrainFlow name).")
    if args.name is not None and not args.name.strip():
        raise UsageError("--name", "the LSL stream name is empty. Give a name or leave --name out.")


def record_outputs(out: Path) -> dict[str, Path]:
    """The files `neurospell record --out OUT` writes: the FIF, the rawlog folder, the exports."""
    stem = out.name[: -len(".fif")]
    files = {"fif": out, "rawlog": out.with_name(stem + RAWLOG_SUFFIX)}
    files.update({fmt: out.with_name(stem + ext) for fmt, ext in EXPORT_SUFFIXES.items()})
    return files


def check_record(args, config) -> None:
    spec = args.board if args.board is not None else config.acquisition.source
    option = "--board" if args.board is not None else f"[acquisition] source in {config_source(args)}"
    problem = board_spec_problem(spec, config.acquisition)
    if problem:
        raise UsageError(option, problem + ".")
    out = Path(args.out).expanduser()
    if not out.name.endswith(".fif"):
        suffix = out.suffix.lower()
        fmt = {".edf": "edf", ".vhdr": "brainvision"}.get(suffix)
        hint = (f" To get {fmt.upper() if fmt == 'edf' else 'BrainVision'} too, pass --out "
                f"{str(out.with_suffix('.fif'))!r} --export {fmt}." if fmt else "")
        raise UsageError("--out", f"`record` writes a FIF file; the name must end with .fif (e.g. "
                                  f"session_raw.fif), got {args.out!r}.{hint}")
    check_output_file("--out", args.out, overwrite=args.overwrite)
    outputs = record_outputs(out)
    for kind, path in outputs.items():
        if kind in EXPORT_SUFFIXES and kind not in args.export:
            continue
        problem = name_length_problem(path)
        if problem:
            raise UsageError("--out", f"{problem} ({str(path)!r} is written too).")
        if path.exists() and not args.overwrite:
            if kind == "rawlog":
                raise UsageError("--overwrite", f"the crash copy {str(path)!r} of an earlier recording "
                                                "already exists. Convert it with `neurospell recover "
                                                f"{str(path)!r} --out FILE.fif`, pass --overwrite to move it "
                                                "aside (it is kept), or choose another --out name.")
            what = "the file" if kind == "fif" else f"the {kind} export"
            raise UsageError("--overwrite", f"{what} {str(path)!r} already exists. Pass --overwrite to "
                                            "replace it, or choose another --out name.")
    for fmt, module in (("brainvision", "pybv"), ("edf", "edfio")):
        if fmt in args.export and importlib.util.find_spec(module) is None:
            raise UsageError("--export", f"{fmt!r} needs the {module!r} package, which is not installed: "
                                         f"`pip install {module}`, or record to FIF only.")


def check_train(args, config) -> None:
    check_output_file("--out", args.out, overwrite=args.overwrite)
    if args.decoder is not None:
        check_decoder_name("--decoder", args.decoder)
    else:
        check_decoder_name(f"[decoder] name in {config_source(args)}", config.decoder.name,
                           " Fix the config or pass --decoder NAME.")
    from neurospell.decoder import DECODERS

    name = args.decoder or config.decoder.name
    accepted = DECODERS[name]._param_names()
    for flag, key in (("--max-epochs", "max_epochs"), ("--n-folds", "n_folds"), ("--device", "device"),
                      ("--seed", "seed")):
        if getattr(args, key, None) is not None and key not in accepted:
            raise NeurospellError(f"{flag} does not apply to the {name!r} decoder (it has no such "
                                  "setting; the neural decoders do). Drop it.")


def check_evaluate(args, config) -> None:
    if args.plot:
        check_output_file("--plot", args.plot, overwrite=None, suffixes=(".png",))


def check_replay(args, config) -> None:
    if is_session_folder(args.file):
        return check_replay_session(args, config)
    if args.fmt is not None:
        check_replay_fmt(args.fmt)
    if args.as_lsl:
        for flag, given in (("--save-epochs", args.save_epochs), ("--decoder", args.decoder),
                            ("--lm", args.lm), ("--lm-path", args.lm_path),
                            ("--no-dynamic-stopping", args.no_dynamic_stopping)):
            if given:
                raise NeurospellError(f"{flag} applies to the batch replay, not to --as-lsl. Drop one of them.")
        if not args.name.strip():
            raise UsageError("--name", "the LSL stream name is empty.")
        return
    for flag, given in (("--speed", args.speed != 1.0), ("--wait", args.wait is not None)):
        if given:
            raise NeurospellError(f"{flag} applies to --as-lsl; the batch replay always runs as fast as "
                                  "possible. Add --as-lsl or drop it.")
    if args.decoder is None:
        for flag, given in (("--lm", args.lm), ("--lm-path", args.lm_path),
                            ("--no-dynamic-stopping", args.no_dynamic_stopping)):
            if given:
                raise NeurospellError(f"{flag} applies with --decoder MODEL (decoding the recording into "
                                      "text). Add --decoder MODEL or drop it.")
    else:
        name = args.lm or config.lm.name
        if name != "uniform":
            check_lm_choice("--lm", name, args.lm_path, config, args)
    if args.save_epochs:
        check_output_file("--save-epochs", args.save_epochs, overwrite=None, suffixes=(".npz",))
    if args.decoder is not None:  # last: reads the model and the recording
        from neurospell.decoder import load_decoder
        from neurospell.preprocessing import load_recording

        kw = {k: v for k, v in (("board_id", args.board_id), ("eeg_stream", args.eeg_stream),
                                ("marker_stream", args.marker_stream)) if v is not None}
        decoder = load_decoder(args.decoder, preprocess=config.preprocessing)
        raw = load_recording(args.file, fmt=args.fmt, **kw)
        check_model_matches_recording(decoder, raw, config.preprocessing)


def check_inspect(args, config) -> None:
    if is_session_folder(args.file):
        raise UsageError("FILE", f"{args.file!r} is a session folder; inspect one of its recordings: a "
                         "sub-*/ses-*/eeg/*_eeg.vhdr file or a sourcedata/.../*.nsraw folder in it.")
    if args.no_plot and args.plot:
        raise NeurospellError("--plot and --no-plot contradict each other. Drop one of them.")
    if args.fmt is not None:
        check_replay_fmt(args.fmt)
    if args.plot:
        check_output_file("--plot", args.plot, overwrite=None, suffixes=(".png",))


def check_replay_session(args, config) -> None:
    """``neurospell replay SESSION_DIR``: the session's own model and LM unless --decoder/--lm."""
    for flag, given in (("--as-lsl", args.as_lsl), ("--fmt", args.fmt), ("--board-id", args.board_id),
                        ("--eeg-stream", args.eeg_stream), ("--marker-stream", args.marker_stream),
                        ("--save-epochs", args.save_epochs), ("--speed", args.speed != 1.0),
                        ("--wait", args.wait is not None), ("--no-dynamic-stopping", args.no_dynamic_stopping)):
        if given:
            raise NeurospellError(
                f"{flag} does not apply to a session folder ({args.file}): `neurospell replay SESSION_DIR` "
                "reruns the session's spelling runs with its own config and model (--decoder MODEL and "
                "--lm NAME replay them with others). Drop it.")
    if args.lm is not None and args.lm != "uniform":
        check_lm_choice("--lm", args.lm, args.lm_path, config, args)


def check_replay_fmt(fmt) -> None:
    from neurospell.preprocessing import SUPPORTED_FORMATS

    if fmt not in SUPPORTED_FORMATS:
        raise UsageError("--fmt", f"unknown format {fmt!r}. Allowed: {', '.join(SUPPORTED_FORMATS)}.")


def check_demo(args, config) -> None:
    check_lm_choice("--lm", args.lm or config.lm.name, args.lm_path, config, args)
    if args.decoder is not None:
        check_decoder_name("--decoder", args.decoder)
    else:
        check_decoder_name(f"[decoder] name in {config_source(args)}", config.decoder.name,
                           " Fix the config or pass --decoder NAME.")


def check_lm_eval(args, config) -> None:
    if not args.text and not args.sets:
        raise UsageError("--text", "no held-out text given: pass --text FILE or --set NAME=FILE (repeatable).")
    names = [Path(f).stem for f in args.text] + [n for n, _ in args.sets]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UsageError("--set", f"the set name(s) {', '.join(map(repr, dup))} are given twice (a --text "
                                  "set is named after its file). Name each set once, e.g. --set NAME=FILE.")
    for name in args.lm or [config.lm.name]:
        check_lm_choice("--lm", LM_FILE_SUFFIXES.get(Path(name).suffix, name), args.lm_path, config, args)
    if args.json:
        check_output_file("--json", args.json, overwrite=None, suffixes=(".json",))


def check_lm_predict(args, config) -> None:
    check_lm_choice("--lm", args.lm or config.lm.name, args.lm_path, config, args)
    symbols = set(config.speller.symbols)
    text = args.text.upper() if all(s.upper() == s for s in symbols) else args.text
    bad = sorted({c for c in text if c not in symbols})
    if bad:
        n = sum(c not in symbols for c in text)
        raise UsageError("TEXT", f"{n} character(s) of {args.text!r} are not on the speller grid: "
                                 f"{' '.join(map(repr, bad))}. Allowed: {config.speller.symbols!r} "
                                 "(letters are upper-cased). Remove them.")


def check_lm_train(args, config) -> None:
    d_model, heads = args.d_model or 192, args.heads or 6
    if (args.d_model or args.heads) and d_model % heads:
        raise UsageError("--d-model", f"must be a multiple of --heads ({heads}), got {d_model}.")
    if args.out is not None:
        check_output_folder("--out", args.out)
    args.sources = None
    if args.text:
        args.sources = []
        for item in args.text:
            name, sep, weight = item.rpartition(":") if ":" in item else (item, "", "")
            w = 1.0
            if sep:
                try:
                    w = float(weight)
                except ValueError:
                    name, w = item, 1.0  # a ':' inside the path, no weight
            if not (w > 0 and math.isfinite(w)):
                raise UsageError("--text", f"the mixing weight after ':' must be a positive number, got {item!r}.")
            if name != "chitchat":
                try:
                    name = text_file(name)
                except argparse.ArgumentTypeError as err:
                    raise UsageError("--text", str(err)) from None
            args.sources.append((name, w))
        if args.valid is None and any(n != "chitchat" for n, _ in args.sources):
            raise UsageError("--valid", "training on text files needs validation text: add --valid FILE "
                                        "(one message per line; 'chitchat' = its validation split).")
    for v in args.valid or ():
        if v != "chitchat":
            try:
                text_file(v)
            except argparse.ArgumentTypeError as err:
                raise UsageError("--valid", str(err)) from None
    if args.init is not None:
        try:
            input_file("weights file")(args.init)
        except argparse.ArgumentTypeError as err:
            raise UsageError("--init", str(err)) from None
    if args.device is not None and not re.fullmatch(r"cpu|cuda(:\d+)?", args.device):
        raise UsageError("--device", f"must be cpu, cuda or cuda:N, got {args.device!r}.")


def check_lm_build_ngram(args, config) -> None:
    if args.out is not None:
        check_output_file("--out", args.out, overwrite=None, suffixes=(".npz",))


def check_lm_build_word(args, config) -> None:
    check_output_file("--out", args.out, overwrite=None, suffixes=(".npz",))


def check_lm_corpus(args, config) -> None:
    from neurospell.lm_fusion.corpus import SOURCES

    for name in args.only or []:
        if name not in SOURCES:
            raise UsageError("--source", f"unknown corpus source {name!r}. Allowed: {', '.join(SOURCES)}.")
    check_output_folder("--out", args.out)
    from neurospell.lm_fusion.corpus import check_sources

    check_sources(args.only or list(SOURCES), args.sources)


def check_lm_heldout(args, config) -> None:
    check_output_file("--out", args.out, overwrite=None)
