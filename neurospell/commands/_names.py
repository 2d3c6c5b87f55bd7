"""Names given on the command line: language models, decoders and acquisition sources (board specs)."""

from __future__ import annotations

from pathlib import Path

from ..check import NeurospellError
from ._paths import _text_problem, input_file, text_file
from ._usage import UsageError, _type_error


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
