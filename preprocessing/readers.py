"""Readers: one entry point, :func:`load_recording`, from any supported file to an MNE ``Raw``.

Every reader returns a preloaded :class:`mne.io.Raw` with EEG in volts and the speller's
events as annotations in the form of :mod:`neurospell.markers` (``flash/<code>/target``,
``flash/<code>/nontarget``, ``trial/<i>/<symbol>``). Anything that goes wrong while
parsing becomes a :class:`~neurospell.check.NeurospellError` that names the file, the
format it was read as, what is wrong, and the supported formats.

This module detects the format and dispatches; the readers live one module per format family:
:mod:`.read_mne` (FIF, EDF/BDF, BrainVision, EEGLAB), :mod:`.read_gdf_bci2000` (GDF, BCI2000),
:mod:`.read_xdf`, :mod:`.read_matlab` (g.tec ``.mat``), :mod:`.read_bnci` (BNCI 003-2015 ``.mat``,
whose ``FILE:train`` / ``FILE:test`` select one part, :mod:`neurospell.parts`), :mod:`.read_brainflow` (BrainFlow files,
neurospell's raw log); the marker-to-annotation mapping they share is :mod:`.read_events`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError, check_fname, check_option, validate_type
from neurospell.logs import logger, use_log_level
from neurospell.parts import split_part
from neurospell.units import UNIT_SCALE

from .read_bids import apply_bids
from .read_bnci import PARTS as BNCI_PARTS
from .read_bnci import is_bnci_mat, read_bnci
from .read_brainflow import _read_brainflow, _read_rawlog
from .read_events import _marker_to_description, _normalise_annotations, split_trials  # noqa: F401 (re-exported)
from .read_gdf_bci2000 import _read_bci2000, _read_gdf
from .read_matlab import GTEC_CH_NAMES, _read_gtec, gtec_to_raw, read_mat_numeric  # noqa: F401 (re-exported)
from .read_mne import _read_bdf, _read_brainvision, _read_edf, _read_eeglab, _read_fif
from .read_xdf import _read_xdf

__all__ = ["load_recording", "SUPPORTED_FORMATS", "gtec_to_raw", "split_trials", "read_mat_numeric"]

#: format name -> file name endings that select it (lower case).
SUPPORTED_FORMATS: dict[str, tuple[str, ...]] = {
    "fif": (".fif", ".fif.gz"),
    "edf": (".edf",),
    "bdf": (".bdf",),
    "brainvision": (".vhdr",),
    "eeglab": (".set",),
    "xdf": (".xdf", ".xdfz"),
    "brainflow": (".csv", ".tsv"),
    "gtec": (".mat",),
    "rawlog": (".nsraw",),
    "gdf": (".gdf",),
    "bci2000": (".dat",),
    "bnci": (".mat",),  # told from g.tec's .mat by its contents (a struct with train/test)
}

#: Unit -> volts: the one table of :mod:`neurospell.units` (no second copy here).
_UNIT_SCALE = UNIT_SCALE


def _formats_text() -> str:
    return "; ".join(f"{k} ({', '.join(v)})" for k, v in SUPPORTED_FORMATS.items())


def _fail(path: Path, fmt: str | None, what: str, hint: str | None = None) -> NeurospellError:
    fmt_txt = f" as {fmt}" if fmt else ""
    msg = f"Could not read {str(path)!r}{fmt_txt}: {what}"
    if not msg.endswith("."):
        msg += "."
    msg += f" {hint}" if hint else f" Supported formats: {_formats_text()}."
    return NeurospellError(msg)


def _guess_format(path: Path) -> str | None:
    name = path.name.lower()
    for fmt, ends in SUPPORTED_FORMATS.items():
        if any(name.endswith(e) for e in ends):
            return fmt
    if name.endswith(".fif.gz") or name.endswith("_raw.fif") or name.endswith("_eeg.fif"):
        return "fif"
    return None


def _sniff_format(path: Path) -> str | None:
    """Guess from the first bytes when the file name does not tell."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None
    if head.startswith(b"XDF:"):
        return "xdf"
    if head.startswith(b"MATLAB 5.0"):
        return "gtec"
    if head.startswith(b"GDF "):
        return "gdf"
    if head.startswith(b"BCI2000V=") or head.startswith(b"HeaderLen="):
        return "bci2000"
    if head.startswith(b"\x00\x00\x00\x64") or head[:4] == b"\x00\x00\x00\x64":  # FIFF_FILE_ID
        return "fif"
    return None


def load_recording(
    path,
    *,
    fmt: str | None = None,
    board_id: int | None = None,
    eeg_stream: str | None = None,
    marker_stream: str | list | tuple | None = None,
    verbose=None,
):
    """Read an EEG recording in any supported format into an MNE ``Raw``.

    Parameters
    ----------
    path : path-like
        The recording. For BrainVision give the ``.vhdr`` header, for EEGLAB the ``.set``.
    fmt : str | None
        One of :data:`SUPPORTED_FORMATS` (``"fif"``, ``"edf"``, ``"bdf"``, ``"brainvision"``,
        ``"eeglab"``, ``"xdf"``, ``"brainflow"``, ``"gtec"``, ``"rawlog"``, ``"gdf"``,
        ``"bci2000"``, ``"bnci"``); ``None`` guesses
        from the file name (then from the first bytes). A ``path`` written ``FILE:PART``
        reads one part of a file that holds several (BNCI 003-2015: ``s6.mat:train``,
        ``s6.mat:test``; see :mod:`neurospell.parts`).
    board_id : int | None
        BrainFlow board id of a BrainFlow file (``fmt="brainflow"``). ``None`` reads it from
        the sidecar ``<file>.json`` (``{"board_id": ...}``) written next to the file.
    eeg_stream : str | None
        XDF only: name or type of the EEG stream. ``None`` picks the stream of type ``EEG``
        (or the regularly sampled stream with the most channels).
    marker_stream : str | list of str | None
        XDF only: name(s) or type(s) of the marker stream(s). ``None`` uses every irregular
        stream (nominal rate 0).
    verbose : bool | str | int | None
        Log level (see :func:`neurospell.set_log_level`).

    Returns
    -------
    raw : mne.io.Raw
        Preloaded; EEG in volts; events as annotations per :mod:`neurospell.markers`.
    """
    with use_log_level(verbose):
        path, part = split_part(path)
        path = check_fname(path, "path")
        is_log = path.is_dir() and (path / "header.json").is_file()
        if path.is_dir() and not is_log:
            raise NeurospellError(
                f"path must be a recording file, got the folder {str(path)!r}. "
                f"Supported formats: {_formats_text()}."
            )
        if fmt is not None:
            validate_type(fmt, str, "fmt")
            check_option("fmt", fmt, list(SUPPORTED_FORMATS) + [None])
        else:
            fmt = "rawlog" if is_log else (_guess_format(path) or _sniff_format(path))
            if fmt == "gtec" and is_bnci_mat(path):
                fmt = "bnci"
            if fmt is None:
                raise NeurospellError(
                    f"Cannot tell the format of {str(path)!r} from its name or contents. "
                    f"Supported formats: {_formats_text()}. Pass fmt=... if the name is unusual."
                )
        if board_id is not None and fmt != "brainflow":
            raise NeurospellError(f"board_id is only used for BrainFlow files, but {str(path)!r} reads as {fmt}.")
        if (eeg_stream is not None or marker_stream is not None) and fmt != "xdf":
            raise NeurospellError(
                f"eeg_stream/marker_stream are only used for XDF files, but {str(path)!r} reads as {fmt}."
            )
        if fmt == "rawlog" and not path.is_dir():
            raise _fail(path, fmt, "a neurospell raw log is a folder (NAME.nsraw/) with header.json")
        if not path.is_dir() and path.stat().st_size == 0:
            raise _fail(path, fmt, "the file is empty (0 bytes)")
        if part is not None and fmt != "bnci":
            raise NeurospellError(
                f"{str(path)!r} reads as {fmt}, which has no parts, but a part {part!r} was selected "
                f"(FILE:PART). Parts exist only in BNCI 003-2015 .mat files ({', '.join(BNCI_PARTS)}); "
                "give the file name alone.")
        reader = _READERS[fmt]
        kwargs = {}
        if fmt == "brainflow":
            kwargs["board_id"] = board_id
        elif fmt == "xdf":
            kwargs.update(eeg_stream=eeg_stream, marker_stream=marker_stream)
        elif fmt == "bnci":
            if part is not None and part not in BNCI_PARTS:
                raise NeurospellError(
                    f"{str(path)!r}: a BNCI 003-2015 file has the parts {list(BNCI_PARTS)}, got {part!r} "
                    f"(give {path.name}:train, {path.name}:test, or {path.name} for both).")
            kwargs["part"] = part
        try:
            raw = reader(path, **kwargs)
        except NeurospellError as err:
            msg = str(err)
            if msg.startswith("Could not read"):
                raise
            raise _fail(path, fmt, msg) from None
        except (FileNotFoundError, PermissionError):
            raise
        except Exception as err:  # a parser failed deep inside: say which file and why
            logger.debug("reader %s failed on %s", fmt, path, exc_info=True)
            raise _fail(path, fmt, f"{type(err).__name__}: {err}") from None
        _check_raw(raw, path, fmt)
        raw = _normalise_annotations(raw)
        raw = apply_bids(raw, path)  # BIDS events.tsv; copy-spelling labels in a session folder
        logger.info(
            "Read %s (%s): %d channels, %.1f s at %g Hz, %d annotations",
            path.name, fmt, len(raw.ch_names), raw.times[-1] if raw.n_times else 0.0,
            raw.info["sfreq"], len(raw.annotations),
        )
        return raw


def _check_raw(raw, path, fmt):
    if raw.n_times < 1 or len(raw.ch_names) < 1:
        raise _fail(path, fmt, f"it holds no data ({len(raw.ch_names)} channels, {raw.n_times} samples)")
    data = raw.get_data()
    if not np.all(np.isfinite(data)):
        n_bad = int(data.size - np.count_nonzero(np.isfinite(data)))
        raise _fail(path, fmt, f"{n_bad} samples are NaN or infinite (corrupt data)")


_READERS = {
    "fif": _read_fif,
    "edf": _read_edf,
    "bdf": _read_bdf,
    "brainvision": _read_brainvision,
    "eeglab": _read_eeglab,
    "xdf": _read_xdf,
    "brainflow": _read_brainflow,
    "gtec": _read_gtec,
    "rawlog": _read_rawlog,
    "gdf": _read_gdf,
    "bci2000": _read_bci2000,
    "bnci": read_bnci,
}
