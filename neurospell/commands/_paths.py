"""Command-line paths: input files and folders (``type=``), and files and folders about to be written."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

from ._usage import UsageError, _type_error

RAWLOG_SUFFIX = ".nsraw"


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
    session folder (``neurospell replay SESSION_DIR``; train, evaluate, inspect and simulate
    read its labelled runs: :func:`expand_recordings`); ``FILE:PART`` selects one part of a
    file that holds several (:mod:`neurospell.parts`)."""
    from neurospell.parts import split_part

    if split_part(text)[1] is not None:
        _existing(str(split_part(text)[0]), "recording")
        return text
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


def expand_recordings(paths) -> list[str]:
    """Recordings with each session folder replaced by its labelled runs (calibration and copy
    spelling; :func:`neurospell.session.inputs.expand_recordings`), a note on stderr for each run."""
    import sys

    from neurospell.session.inputs import expand_recordings as expand

    return expand(paths, on_note=lambda line: print(line, file=sys.stderr, flush=True))


#: The name of the cross-subject model shipped with the package (``decoder/generic/``).
GENERIC_MODEL = "generic"


def model_file(text):
    """An argparse ``type=``: a model file written by ``neurospell train`` (a pickle), or
    ``generic``: the cross-subject model shipped with the package (unless a file of that name
    is in the working folder)."""
    if text == GENERIC_MODEL and not Path(text).exists():
        from neurospell.check import NeurospellError
        from neurospell.decoder.generic import generic_model_path

        try:
            return str(generic_model_path())
        except NeurospellError as err:
            raise _type_error(str(err)) from None
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
