"""Readers: one entry point, :func:`load_recording`, from any supported file to an MNE ``Raw``.

Every reader returns a preloaded :class:`mne.io.Raw` with EEG in volts and the speller's
events as annotations in the form of :mod:`neurospell.markers` (``flash/<code>/target``,
``flash/<code>/nontarget``, ``trial/<i>/<symbol>``). Anything that goes wrong while
parsing becomes a :class:`~neurospell.check.NeurospellError` that names the file, the
format it was read as, what is wrong, and the supported formats.
"""

from __future__ import annotations

import json
import re
import warnings
import zlib
from pathlib import Path

import numpy as np

from neurospell import rawlog
from neurospell.check import NeurospellError, check_fname, check_option, validate_type
from neurospell.logs import logger, use_log_level
from neurospell.markers import (
    TRIAL_START,
    decode_symbol,
    flash_to_annotation,
    parse_flash,
    parse_trial,
    trial_to_annotation,
)
from neurospell.units import UNIT_SCALE, unit_scales

from .bci2000 import p3speller_markers, read_bci2000

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
}

#: Usual electrode positions of g.tec's 8-channel P300 cap (unverified for the shared files).
GTEC_CH_NAMES = ("Fz", "Cz", "P3", "Pz", "P4", "PO7", "Oz", "PO8")

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
        ``"bci2000"``); ``None`` guesses
        from the file name (then from the first bytes).
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
        reader = _READERS[fmt]
        kwargs = {}
        if fmt == "brainflow":
            kwargs["board_id"] = board_id
        elif fmt == "xdf":
            kwargs.update(eeg_stream=eeg_stream, marker_stream=marker_stream)
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


# --------------------------------------------------------------------------------------
# annotations


def _marker_to_description(value) -> str | None:
    """Map a marker (int code or string) to an annotation description; ``None`` to drop it."""
    if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer()):
        v = int(value)
        if v == 0:
            return None
        if v == TRIAL_START:
            return "trial"
        info = parse_flash(v)
        if info is not None:
            return flash_to_annotation(info.code, info.target)
        return str(v)
    text = str(value)
    if not text.strip():
        return None
    trial = parse_trial(text)
    if trial is not None:
        idx, sym = trial
        return trial_to_annotation(idx, None if sym is None else decode_symbol(sym))
    text = text.strip()
    info = parse_flash(text)
    if info is not None and not text.lstrip("-").isdigit():
        return flash_to_annotation(info.code, info.target)
    if text.lstrip("-").isdigit():
        return _marker_to_description(int(text))
    return text.replace(":", "/")


def _normalise_annotations(raw):
    """Number bare ``trial`` annotations (from integer codes) in time order."""
    ann = raw.annotations
    if not len(ann) or "trial" not in set(ann.description):
        return raw
    desc = list(ann.description)
    order = np.argsort(ann.onset, kind="stable")
    used = {parse_trial(d)[0] for d in desc if parse_trial(d) is not None}
    nxt = (max(used) + 1) if used else 0
    for i in order:
        if desc[i] == "trial":
            desc[i] = trial_to_annotation(nxt)
            nxt += 1
    import mne

    raw.set_annotations(
        mne.Annotations(ann.onset, ann.duration, desc, orig_time=ann.orig_time, ch_names=ann.ch_names)
    )
    return raw


def _events_to_annotations(raw, samples: np.ndarray, values) -> None:
    """Add annotations for marker ``values`` at ``samples`` (indices into ``raw``)."""
    import mne

    onsets, descs = [], []
    for s, v in zip(samples, values, strict=True):
        d = _marker_to_description(v)
        if d is not None:
            onsets.append(s / raw.info["sfreq"])
            descs.append(d)
    if onsets:
        raw.set_annotations(raw.annotations + mne.Annotations(onsets, 0.0, descs, orig_time=raw.annotations.orig_time))


def split_trials(onsets, *, gap_factor: float = 4.0, min_gap: float = 1.0) -> np.ndarray:
    """Group flash onsets into trials (characters) at the long pauses between flash runs.

    Parameters
    ----------
    onsets : array, shape (n_flashes,)
        Flash onset times in seconds, sorted.
    gap_factor : float
        A pause longer than ``gap_factor`` times the median inter-flash interval ...
    min_gap : float
        ... and longer than ``min_gap`` seconds starts a new trial.

    Returns
    -------
    trials : array of int, shape (n_flashes,)
        Trial index of each flash, from 0.
    """
    onsets = np.asarray(onsets, dtype=float)
    if onsets.size == 0:
        return np.zeros(0, dtype=np.int64)
    d = np.diff(onsets)
    if d.size == 0:
        return np.zeros(1, dtype=np.int64)
    thresh = max(gap_factor * float(np.median(d)), min_gap)
    return np.concatenate([[0], np.cumsum(d > thresh)]).astype(np.int64)


# --------------------------------------------------------------------------------------
# format readers


#: MNE warnings that mean the data were not read whole; every other warning is logged. The
#: structure checks below (``_check_*``) decide truncation per format before MNE reads.
_MNE_REFUSE = ("truncat", "end of file", "could not be read")


def _read_mne(func, path, *, quiet=(), **kwargs):
    """Read with an MNE reader; ``quiet``: warnings a structure check has already reported."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = func(path, preload=True, verbose="error", **kwargs)
    for w in caught:
        msg = str(w.message)
        if any(k in msg.lower() for k in _MNE_REFUSE):
            raise NeurospellError(f"the file looks truncated or inconsistent ({msg})")
        if issubclass(w.category, RuntimeWarning) and not any(k in msg.lower() for k in quiet):
            logger.warning("%s: %s", Path(path).name, msg)
        else:
            logger.info("%s: %s", Path(path).name, msg)
    return raw


def _read_fif(path: Path):
    import mne

    if not path.name.lower().endswith(".gz"):
        _check_fif_structure(path)
    raw = _read_mne(mne.io.read_raw_fif, path)
    _stim_to_annotations(raw)
    return raw


def _check_fif_structure(path: Path) -> None:
    """Walk the FIF tags: a cut file (a tag running past the end, blocks left open) or a
    corrupt tag header is an error; MNE alone would read the samples up to the cut."""
    size = path.stat().st_size
    depth = 0
    pos = 0
    with open(path, "rb") as f:
        while pos < size:
            f.seek(pos)
            head = f.read(16)
            if len(head) < 16:
                raise NeurospellError(f"the file is truncated inside a tag header at byte {pos}")
            kind, _type, tsize, nxt = np.frombuffer(head, dtype=">i4")
            if tsize < 0 or pos + 16 + int(tsize) > size:
                raise NeurospellError(
                    f"the file is truncated or corrupt: a tag at byte {pos} needs {int(tsize)} bytes, "
                    f"{size - pos - 16} are left"
                )
            if kind == 104:  # FIFF_BLOCK_START
                depth += 1
            elif kind == 105:  # FIFF_BLOCK_END
                depth -= 1
            pos += 16 + int(tsize)
            if nxt > 0:  # an explicit next-tag pointer
                if nxt <= pos - 16 - int(tsize) or nxt > size:
                    raise NeurospellError(f"corrupt tag at byte {pos}: next-tag pointer {int(nxt)}")
                pos = int(nxt)
    if depth != 0:
        raise NeurospellError(
            f"the file is truncated: {depth} data block(s) are never closed" if depth > 0
            else "the file is corrupt: more blocks end than start"
        )


def _stim_to_annotations(raw) -> None:
    """Recordings with a stim channel but no neurospell annotations: decode the codes."""
    import mne

    if any(parse_flash(d) is not None for d in raw.annotations.description):
        return
    stim = mne.pick_types(raw.info, meg=False, stim=True)
    if not len(stim):
        return
    events = mne.find_events(raw, stim_channel=[raw.ch_names[i] for i in stim], shortest_event=1,
                             initial_event=True, verbose="error")
    if len(events):
        _events_to_annotations(raw, events[:, 0] - raw.first_samp, events[:, 2])


def _read_edf(path: Path):
    import mne

    _check_edf_size(path)
    return _read_mne(mne.io.read_raw_edf, path, quiet=_EDF_COUNT_WARNING)


def _read_bdf(path: Path):
    import mne

    _check_edf_size(path)
    return _read_mne(mne.io.read_raw_bdf, path, quiet=_EDF_COUNT_WARNING)


_EDF_COUNT_WARNING = ("number of records",)


def _check_edf_size(path: Path) -> None:
    """EDF/BDF: the header states the record count and sizes; the file must hold them all."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise NeurospellError(f"the EDF/BDF header is cut short ({size} bytes, the fixed header alone is 256)")
        try:
            n_header = int(head[184:192].decode("ascii").strip())
            n_records = int(head[236:244].decode("ascii").strip())
            n_signals = int(head[252:256].decode("ascii").strip())
        except ValueError:
            raise NeurospellError("the EDF/BDF header is not valid (header size/record count unreadable)") from None
        if n_signals <= 0 or n_header != 256 * (n_signals + 1):
            raise NeurospellError(
                f"the EDF/BDF header is not valid ({n_signals} signals but a header of {n_header} bytes)"
            )
        f.seek(256 + 216 * n_signals)
        raw_ns = f.read(8 * n_signals)
    if len(raw_ns) < 8 * n_signals:
        raise NeurospellError(f"the EDF/BDF header is cut short ({size} bytes < {n_header})")
    try:
        samples = [int(raw_ns[i * 8:(i + 1) * 8].decode("ascii").strip()) for i in range(n_signals)]
    except ValueError:
        raise NeurospellError("the EDF/BDF header is not valid (samples per record unreadable)") from None
    width = 3 if head[:1] == b"\xff" else 2  # BDF ("\xffBIOSEMI"): 24-bit samples; EDF: 16-bit
    record = sum(samples) * width
    if record <= 0:
        raise NeurospellError(f"the EDF/BDF header is not valid (samples per data record: {samples})")
    n_data, rest = divmod(size - n_header, record)
    if n_records > 0 and n_data < n_records:
        expected = n_header + n_records * record
        raise NeurospellError(
            f"the file is truncated: its header announces {n_records} data records "
            f"({expected} bytes) but it has {size} bytes"
        )
    if rest:
        raise NeurospellError(
            f"the data after the header ({size - n_header} bytes) are not a whole number of "
            f"{record}-byte data records: the file is truncated or corrupt"
        )
    if n_records <= 0:  # -1: the recorder did not close the file (allowed by the EDF spec)
        logger.warning("%s: the header does not state the number of data records (%d); reading the "
                       "%d whole records the file holds", path.name, n_records, n_data)
    elif n_data > n_records:
        logger.warning("%s: the header announces %d data records but the file holds %d; reading "
                       "all %d (as MNE does)", path.name, n_records, n_data, n_data)


def _read_brainvision(path: Path):
    import mne

    # Check the data file against the header first: MNE reads whatever the file holds.
    _check_brainvision_data(path)
    raw = _read_mne(mne.io.read_raw_brainvision, path)
    # BrainVision markers read as "Stimulus/S  3" (integer codes) or "<Type>/<text>".
    ann = raw.annotations
    desc = []
    for d in ann.description:
        m = re.fullmatch(r"(?:Stimulus|Response)/[SR]\s*(\d+)", d)
        if m:
            mapped = _marker_to_description(int(m.group(1)))
        else:
            text = d.split("/", 1)[1] if re.match(r"(Comment|Stimulus|Response|Marker)/", d) else d
            mapped = _marker_to_description(text) if (parse_flash(text) or parse_trial(text)) else d
        desc.append(mapped if mapped is not None else d)
    raw.set_annotations(mne.Annotations(ann.onset, ann.duration, desc, orig_time=ann.orig_time))
    return raw


#: BrainVision binary formats (as MNE reads them) -> bytes per value.
_BV_WIDTH = {"INT_16": 2, "INT_32": 4, "IEEE_FLOAT_32": 4}


def _brainvision_header(path: Path) -> dict:
    """``{section (lower case): {key: value}}`` of a BrainVision ``.vhdr`` (INI-like) file."""
    out: dict = {}
    section = None
    blob = path.read_bytes()
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:  # Codepage=ANSI (Windows-1252)
        text = blob.decode("cp1252", errors="replace")
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1].strip().lower(), {})
        elif section is not None and "=" in line and not line.startswith(";"):
            key, value = line.split("=", 1)
            section[key.strip()] = value.strip()
    return out


def _check_brainvision_data(path: Path) -> None:
    """The data file must hold a whole number of samples in a format that can be decoded.

    Exporters (BrainVision Analyzer among them) may state a ``DataPoints`` that differs from
    what the data file holds; like MNE, what the file holds is read, with a warning.
    """
    hdr = _brainvision_header(path)
    common = hdr.get("common infos", {})
    name = common.get("DataFile")
    if not name:
        raise NeurospellError("the header has no DataFile= entry in [Common Infos] (not a BrainVision header?)")
    data_format = common.get("DataFormat", "BINARY").upper()
    orientation = common.get("DataOrientation", "MULTIPLEXED").upper()
    if orientation not in ("MULTIPLEXED", "VECTORIZED"):
        raise NeurospellError(f"DataOrientation={orientation} is not MULTIPLEXED or VECTORIZED")
    if data_format == "ASCII":
        if orientation != "MULTIPLEXED":
            raise NeurospellError("ASCII data can only be read in MULTIPLEXED orientation (MNE's reader)")
        return
    if data_format != "BINARY":
        raise NeurospellError(f"DataFormat={data_format} is not BINARY or ASCII")
    fmt = hdr.get("binary infos", {}).get("BinaryFormat", "").upper()
    if fmt not in _BV_WIDTH:
        raise NeurospellError(
            f"BinaryFormat={fmt or '(missing)'} cannot be decoded; BrainVision binary data must be "
            f"{', '.join(_BV_WIDTH)}"
        )
    try:
        n_ch = int(common.get("NumberOfChannels", ""))
    except ValueError:
        n_ch = 0
    if n_ch <= 0:
        raise NeurospellError(f"NumberOfChannels={common.get('NumberOfChannels')!r} is not a channel count")
    data_file = path.parent / name
    if not data_file.is_file():
        raise FileNotFoundError(f"The data file {str(data_file)!r} named by {path.name} (DataFile=) does not exist.")
    size = data_file.stat().st_size
    frame = _BV_WIDTH[fmt] * n_ch
    n, rest = divmod(size, frame)
    if rest:
        raise NeurospellError(
            f"the data file {data_file.name} has {size} bytes, not a whole number of {n_ch}-channel "
            f"{fmt} samples ({frame} bytes each): it is truncated or corrupt"
        )
    points = common.get("DataPoints")
    if points is None or not points.isdigit() or int(points) == n:
        return
    if orientation == "VECTORIZED" and n:
        raise NeurospellError(
            f"the header announces {points} samples (DataPoints) but {data_file.name} holds {n}: "
            "VECTORIZED data store each channel whole, one after the other, so the channels cannot "
            "be told apart; the data file is truncated or the header is wrong"
        )
    logger.warning(
        "%s: the header announces %s samples (DataPoints) but %s holds %d; reading the %d samples "
        "the data file holds", path.name, points, data_file.name, n, n,
    )


def _read_eeglab(path: Path):
    import mne

    try:  # the data are in the .set (embedded) or in a .fdt file beside it
        raw = _read_mne(mne.io.read_raw_eeglab, path)
    except RuntimeError as err:
        if "number of samples" not in str(err).lower():
            raise
        fdt = [f for f in (path.with_suffix(".fdt"), path.with_suffix(".FDT")) if f.is_file()]
        where = f"the data file {fdt[0].name} ({fdt[0].stat().st_size} bytes)" if fdt else "the data"
        raise NeurospellError(
            f"{where} does not hold the channels x samples the header announces ({err}): "
            "it is truncated or corrupt"
        ) from None
    ann = raw.annotations
    desc = [_marker_to_description(d) or d for d in ann.description]
    raw.set_annotations(mne.Annotations(ann.onset, ann.duration, desc, orig_time=ann.orig_time))
    return raw


def gtec_to_raw(fs, y, trig, *, ch_names=GTEC_CH_NAMES):
    """Build a ``Raw`` from the g.tec P300 variables (``fs``, ``y`` in µV, ``trig`` ±1).

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    y : array, shape (n_samples, n_channels)
        EEG in microvolts.
    trig : array, shape (n_samples,) or (n_samples, 1)
        ``+1`` at the onset of a target flash, ``-1`` at a non-target flash, ``0`` otherwise.
    ch_names : sequence of str
        Channel names (the usual g.tec P300 montage by default, unverified for the shared files).

    Returns
    -------
    raw : mne.io.RawArray
        EEG in volts; flashes as ``flash/0/target`` / ``flash/0/nontarget`` (their row or
        column is unknown) and one ``trial/<i>`` annotation per character, found at the
        long pauses between flash runs.
    """
    import mne

    fs = float(np.asarray(fs).ravel()[0])
    y = np.asarray(y, dtype=np.float64)
    trig = np.asarray(trig).ravel()
    if y.ndim != 2:
        raise NeurospellError(f"'y' must be a 2-D array (n_samples, n_channels), got shape {y.shape}")
    if trig.shape[0] != y.shape[0]:
        raise NeurospellError(f"'trig' has {trig.shape[0]} samples but 'y' has {y.shape[0]}")
    if not (np.isfinite(fs) and fs > 0):
        raise NeurospellError(f"'fs' must be a positive sampling rate, got {fs!r}")
    bad = set(np.unique(trig).tolist()) - {-1, 0, 1}
    if bad:
        raise NeurospellError(f"'trig' must hold only -1, 0, +1, got also {sorted(bad)[:5]}")
    n_ch = y.shape[1]
    names = list(ch_names) if len(ch_names) == n_ch else [f"EEG{i + 1}" for i in range(n_ch)]
    info = mne.create_info(names, fs, "eeg")
    raw = mne.io.RawArray(y.T * 1e-6, info, verbose="error")
    idx = np.flatnonzero(trig)
    onsets = idx / fs
    descs = [flash_to_annotation(0, bool(trig[i] > 0)) for i in idx]
    trials = split_trials(onsets)
    t_on, t_desc = [], []
    for t in np.unique(trials):
        t_on.append(onsets[np.flatnonzero(trials == t)[0]])
        t_desc.append(trial_to_annotation(int(t)))
    raw.set_annotations(mne.Annotations(np.r_[onsets, t_on], 0.0, descs + t_desc))
    return raw


def _read_gtec(path: Path):
    mat = read_mat_numeric(path)
    missing = [k for k in ("fs", "y", "trig") if k not in mat]
    if missing:
        raise NeurospellError(
            f"a g.tec P300 .mat file needs the variables fs, y, trig; missing {missing} "
            f"(the file has {sorted(mat)})"
        )
    return gtec_to_raw(mat["fs"], mat["y"], mat["trig"])


_MI_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
_MX_NUMERIC = {6, 7, 8, 9, 10, 11, 12, 13, 14, 15}


def read_mat_numeric(path) -> dict:
    """The real numeric matrices of a MATLAB v5 .mat file, parsed with bounds checks.

    A small, strict reader (scipy's ``loadmat`` can crash the interpreter on corrupt
    files): every size is checked against the bytes that are there; other variable kinds
    (cells, structs, strings, sparse, complex) are skipped.

    Returns
    -------
    variables : dict of str -> array
        Column-major MATLAB arrays as NumPy arrays of their stored shape.
    """
    blob = Path(path).read_bytes()
    if len(blob) < 128:
        raise NeurospellError(f"the MAT-file header is cut short ({len(blob)} bytes, the header is 128)")
    if blob[:19] == b"MATLAB 7.3 MAT-file" or blob[512:520] == b"\x89HDF\r\n\x1a\n":
        raise NeurospellError("MATLAB v7.3 (HDF5) files are not supported; save with -v7 or -v6")
    if not blob.startswith(b"MATLAB 5.0 MAT-file"):
        raise NeurospellError("it is not a MATLAB 5 MAT-file (no 'MATLAB 5.0 MAT-file' header)")
    endian = blob[126:128]
    if endian not in (b"IM", b"MI"):
        raise NeurospellError(f"the MAT-file endian indicator is corrupt ({endian!r})")
    bo = "<" if endian == b"IM" else ">"
    out: dict = {}

    def tag(buf, pos):
        if pos + 8 > len(buf):
            raise NeurospellError(f"the MAT-file is truncated at byte {pos} (a data element header is cut)")
        a, b = np.frombuffer(buf, dtype=f"{bo}u4", count=2, offset=pos)
        if a >> 16:  # small data element: (nbytes << 16 | type), data in the next 4 bytes
            return int(a & 0xFFFF), int(a >> 16), pos + 4, pos + 8
        nbytes = int(b)
        start = pos + 8
        if start + nbytes > len(buf):
            raise NeurospellError(
                f"the MAT-file is truncated: an element at byte {pos} needs {nbytes} bytes, "
                f"{len(buf) - start} are left"
            )
        return int(a), nbytes, start, start + nbytes

    def matrix(buf):
        # array flags
        t, n, d0, d1 = tag(buf, 0)
        if t != 6 or n != 8:
            raise NeurospellError("corrupt MAT-file matrix (array flags)")
        flags = int(np.frombuffer(buf, dtype=f"{bo}u4", count=1, offset=d0)[0])
        cls, is_complex = flags & 0xFF, bool(flags & 0x0800)
        pos = (d1 + 7) & ~7
        t, n, d0, d1 = tag(buf, pos)
        if t != 5 or n % 4 or n == 0:
            raise NeurospellError("corrupt MAT-file matrix (dimensions)")
        dims = tuple(int(v) for v in np.frombuffer(buf, dtype=f"{bo}i4", count=n // 4, offset=d0))
        if any(v < 0 for v in dims):
            raise NeurospellError(f"corrupt MAT-file matrix (negative dimensions {dims})")
        pos = (d1 + 7) & ~7
        t, n, d0, d1 = tag(buf, pos)
        if t not in (1, 16):
            raise NeurospellError("corrupt MAT-file matrix (name)")
        name = bytes(buf[d0:d0 + n]).decode("ascii", errors="replace")
        if cls not in _MX_NUMERIC or is_complex:
            return name, None
        pos = (d1 + 7) & ~7
        t, n, d0, d1 = tag(buf, pos)
        if t not in _MI_DTYPES:
            raise NeurospellError(f"corrupt MAT-file matrix {name!r} (data type {t})")
        dt = np.dtype(_MI_DTYPES[t]).newbyteorder(bo)
        count = int(np.prod(dims)) if dims else 0
        if n != count * dt.itemsize:
            raise NeurospellError(
                f"corrupt MAT-file matrix {name!r}: {dims} needs {count * dt.itemsize} bytes, it stores {n}"
            )
        arr = np.frombuffer(buf, dtype=dt, count=count, offset=d0).reshape(dims, order="F")
        return name, arr.astype(arr.dtype.newbyteorder("="))

    pos = 128
    while pos < len(blob):
        t, n, d0, d1 = tag(blob, pos)
        if t == 15:  # miCOMPRESSED: one zlib-compressed element
            try:
                inner = zlib.decompress(blob[d0:d1])
            except zlib.error as err:
                raise NeurospellError(f"a compressed MAT-file element at byte {pos} is corrupt ({err})") from None
            it, _n, i0, i1 = tag(inner, 0)
            if it == 14:
                name, arr = matrix(inner[i0:i1])
                if arr is not None:
                    out[name] = arr
            pos = d1
        elif t == 14:
            name, arr = matrix(blob[d0:d1])
            if arr is not None:
                out[name] = arr
            pos = (d1 + 7) & ~7
        else:
            raise NeurospellError(f"unexpected MAT-file element type {t} at byte {pos} (corrupt file)")
    return out


# --------------------------------------------------------------------------------------
# XDF


def _xdf_text(d, key, default=""):
    v = d.get(key, [default])
    if isinstance(v, list):
        v = v[0] if v else default
    return v if v is not None else default


def _xdf_channels(info, n_ch):
    names, types, units = [], [], []
    try:
        chans = info["desc"][0]["channels"][0]["channel"]
    except (KeyError, IndexError, TypeError):
        chans = []
    stype = str(_xdf_text(info, "type", "EEG")).lower()
    for i in range(n_ch):
        c = chans[i] if i < len(chans) and isinstance(chans[i], dict) else {}
        names.append(str(_xdf_text(c, "label", "")) or f"Ch{i + 1}")
        t = str(_xdf_text(c, "type", "")).lower() or ("eeg" if stype == "eeg" else "misc")
        types.append(t if t in ("eeg", "eog", "ecg", "emg", "misc", "stim", "resp", "bio") else "misc")
        units.append(str(_xdf_text(c, "unit", "")).lower())
    return names, types, units


def _match_stream(streams, key):
    key_l = key.lower()
    hits = [s for s in streams if str(_xdf_text(s["info"], "name")).lower() == key_l]
    if not hits:
        hits = [s for s in streams if str(_xdf_text(s["info"], "type")).lower() == key_l]
    return hits


def _read_xdf(path: Path, *, eeg_stream=None, marker_stream=None):
    import mne
    import pyxdf

    _check_xdf_structure(path)
    try:
        streams, _ = pyxdf.load_xdf(str(path), verbose=False)
    except Exception as err:
        raise NeurospellError(f"pyxdf could not parse it ({type(err).__name__}: {err})") from None

    def srate(s):
        return float(_xdf_text(s["info"], "nominal_srate", "0") or 0)

    def desc(s):
        i = s["info"]
        return f"{_xdf_text(i, 'name')!r} (type {_xdf_text(i, 'type')!r}, {srate(s):g} Hz)"

    regular = [s for s in streams if srate(s) > 0 and len(s["time_stamps"])]
    if eeg_stream is not None:
        cands = _match_stream(regular, eeg_stream)
        if not cands:
            raise NeurospellError(
                f"no sampled stream named or typed {eeg_stream!r}; its streams are "
                f"{', '.join(desc(s) for s in streams) or 'none'}. Pass eeg_stream= one of those names"
            )
    else:
        cands = _match_stream(regular, "EEG") or sorted(
            regular, key=lambda s: -np.asarray(s["time_series"]).shape[1]
        )
        if not cands:
            raise NeurospellError(
                "it holds no sampled (EEG) stream with data; its streams are "
                f"{', '.join(desc(s) for s in streams) or 'none'}"
            )
    eeg = cands[0]
    if len(cands) > 1:
        logger.info("%s: several candidate EEG streams, using %s", path.name, desc(eeg))
    series = np.asarray(eeg["time_series"], dtype=np.float64)
    ts = np.asarray(eeg["time_stamps"], dtype=np.float64)
    sfreq = srate(eeg)
    names, types, units = _xdf_channels(eeg["info"], series.shape[1])
    scale = np.array(unit_scales(units))  # one table and one rule for every path (neurospell.units)
    if len(ts) > 1:
        eff = (len(ts) - 1) / (ts[-1] - ts[0]) if ts[-1] > ts[0] else np.inf
        if abs(eff - sfreq) > 0.01 * sfreq:
            logger.warning(
                "%s: stream %s has an effective rate of %.3f Hz vs nominal %g Hz (dropped samples?)",
                path.name, desc(eeg), eff, sfreq,
            )
    info = mne.create_info(names, sfreq, types)
    raw = mne.io.RawArray((series * scale).T, info, verbose="error")

    if marker_stream is None:
        markers = [s for s in streams if srate(s) == 0]
    else:
        keys = [marker_stream] if isinstance(marker_stream, str) else list(marker_stream)
        markers = []
        for k in keys:
            hits = _match_stream([s for s in streams if s is not eeg], k)
            if not hits:
                raise NeurospellError(
                    f"no marker stream named or typed {k!r}; its streams are "
                    f"{', '.join(desc(s) for s in streams)}. Pass marker_stream= one of those names"
                )
            markers.extend(h for h in hits if h not in markers)
    onsets, descs = [], []
    t0 = ts[0]
    for ms in markers:
        mts = np.asarray(ms["time_stamps"], dtype=np.float64)
        vals = ms["time_series"]
        for t, v in zip(mts, vals, strict=True):
            v0 = v[0] if isinstance(v, (list, tuple, np.ndarray)) and len(v) else v
            d = _marker_to_description(v0)
            if d is None:
                continue
            onset = t - t0
            if onset < -0.5 / sfreq or onset > (len(ts) - 0.5) / sfreq:
                logger.info("%s: marker %r at %.3f s lies outside the EEG data, skipped", path.name, d, onset)
                continue
            # snap to the nearest sample so integer-sample markers stay exact
            onsets.append(max(onset, 0.0))
            descs.append(d)
    if onsets:
        raw.set_annotations(mne.Annotations(onsets, 0.0, descs))
    return raw


def _check_xdf_structure(path: Path) -> None:
    """Walk the XDF chunk headers: a cut or corrupt container is an error, not partial data."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(4) != b"XDF:":
            raise NeurospellError("it does not start with the XDF magic 'XDF:'")
        pos = 4
        n_chunks = 0
        headers: set = set()
        footers: set = set()
        while pos < size:
            nb = f.read(1)
            if not nb:
                break
            nlen = nb[0]
            if nlen not in (1, 4, 8):
                raise NeurospellError(f"corrupt chunk header at byte {pos} (length field of {nlen} bytes)")
            lb = f.read(nlen)
            if len(lb) < nlen:
                raise NeurospellError(f"the file is truncated inside the chunk header at byte {pos}")
            length = int.from_bytes(lb, "little")
            tag = f.read(2)
            if len(tag) < 2 or length < 2:
                raise NeurospellError(f"the file is truncated or corrupt at byte {pos}")
            tag_v = int.from_bytes(tag, "little")
            if tag_v not in (1, 2, 3, 4, 5, 6):
                raise NeurospellError(f"corrupt chunk at byte {pos} (unknown tag {tag_v})")
            end = pos + 1 + nlen + length
            if end > size:
                raise NeurospellError(
                    f"the file is truncated: a chunk at byte {pos} needs {end} bytes, the file has {size}"
                )
            if tag_v in (2, 6) and length >= 6:
                sid = int.from_bytes(f.read(4), "little")
                (headers if tag_v == 2 else footers).add(sid)
            f.seek(end)
            pos = end
            n_chunks += 1
        if n_chunks == 0:
            raise NeurospellError("it holds no XDF chunks")
        open_streams = sorted(headers - footers)
        if open_streams:
            raise NeurospellError(
                f"stream(s) {open_streams} have no StreamFooter: the file was cut short (an "
                "interrupted recording?), so its data may be incomplete"
            )


# --------------------------------------------------------------------------------------
# BrainFlow files and neurospell's own raw log


def _read_brainflow(path: Path, *, board_id=None):
    import mne
    from brainflow.board_shim import BoardShim
    from brainflow.data_filter import DataFilter

    sidecar = Path(str(path) + ".json")
    meta = {}
    if sidecar.exists():
        try:
            meta = json.loads(sidecar.read_text())
        except json.JSONDecodeError as err:
            raise NeurospellError(f"its sidecar {sidecar.name} is not valid JSON ({err})") from None
    if board_id is None:
        board_id = meta.get("board_id")
    if board_id is None:
        raise NeurospellError(
            "BrainFlow files do not store the board, and no board_id was given",
            )
    board_id = int(board_id)
    try:
        desc = BoardShim.get_board_descr(board_id)
    except Exception:
        raise NeurospellError(f"board_id={board_id} is not a BrainFlow board id") from None
    data = DataFilter.read_file(str(path))
    if data.ndim != 2 or data.shape[1] < 1:
        raise NeurospellError(f"it holds no samples (array of shape {data.shape})")
    n_rows = int(desc["num_rows"])
    if data.shape[0] != n_rows:
        raise NeurospellError(
            f"it has {data.shape[0]} rows per sample, but board {board_id} writes {n_rows}; "
            "pass the board_id the file was recorded with"
        )
    eeg_rows = list(desc.get("eeg_channels", []))
    names = desc.get("eeg_names", "")
    names = names.split(",") if names else [f"EEG{i + 1}" for i in range(len(eeg_rows))]
    if len(names) != len(eeg_rows):
        names = [f"EEG{i + 1}" for i in range(len(eeg_rows))]
    sfreq = float(meta.get("sfreq", desc["sampling_rate"]))
    info = mne.create_info(names, sfreq, "eeg")
    raw = mne.io.RawArray(data[eeg_rows] * 1e-6, info, verbose="error")
    if "marker_channel" in desc:
        m = data[int(desc["marker_channel"])]
        idx = np.flatnonzero(m)
        _events_to_annotations(raw, idx, [int(round(v)) for v in m[idx]])
    return raw


def _read_rawlog(path: Path):
    return rawlog.rawlog_to_raw(path, verbose="error")


# --------------------------------------------------------------------------------------
# GDF (BioSig, OpenViBE) and BCI2000


#: GDF data types (GDFTYP) MNE reads -> bytes per value.
_GDF_WIDTH = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 8, 8: 8, 16: 4, 17: 8}


def _read_gdf(path: Path):
    import mne

    _check_gdf_structure(path)
    if path.suffix.lower() != ".gdf":
        raise NeurospellError("it is a GDF file, but MNE reads GDF only from a file named *.gdf: rename it")
    raw = _read_mne(mne.io.read_raw_gdf, path)
    # GDF events are integer types: neurospell's codes (flash, target, trial) where they fit
    ann = raw.annotations
    desc = []
    for d in ann.description:
        mapped = _marker_to_description(int(d)) if str(d).isdigit() else d
        desc.append(mapped if mapped is not None else d)
    raw.set_annotations(mne.Annotations(ann.onset, ann.duration, desc, orig_time=ann.orig_time))
    return raw


def _check_gdf_structure(path: Path) -> None:
    """GDF 1.x/2.x: header, data records and event table must all be in the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(256)
        if len(head) < 256:
            raise NeurospellError(f"the GDF header is cut short ({size} bytes, the fixed header alone is 256)")
        try:
            version = float(head[4:8].decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            version = None
        if not head.startswith(b"GDF ") or version is None:
            raise NeurospellError(f"it does not start with a GDF version ('GDF 2.20'), got {head[:8]!r}")
        if version < 1.9:
            n_header = int(np.frombuffer(head, "<i8", 1, 184)[0])
            n_signals = int(np.frombuffer(head, "<u4", 1, 252)[0])
        else:
            n_header = int(np.frombuffer(head, "<u2", 1, 184)[0]) * 256
            n_signals = int(np.frombuffer(head, "<u2", 1, 252)[0])
        n_records = int(np.frombuffer(head, "<i8", 1, 236)[0])
        if not 0 < n_signals <= 65535 or not 256 * (n_signals + 1) <= n_header <= size:
            raise NeurospellError(
                f"the GDF header is not valid or cut short ({n_signals} signals, a header of "
                f"{n_header} bytes, a file of {size})"
            )
        f.seek(256 + 216 * n_signals)  # samples per record, then data types, per channel
        spr = np.frombuffer(f.read(4 * n_signals), "<i4")
        types = np.frombuffer(f.read(4 * n_signals), "<i4")
        bad = sorted({int(t) for t in types} - set(_GDF_WIDTH))
        if bad:
            raise NeurospellError(f"GDF data type(s) {bad} cannot be decoded (supported: {sorted(_GDF_WIDTH)})")
        if np.any(spr < 0):
            raise NeurospellError("the GDF header is not valid (negative samples per record)")
        record = int(sum(int(n) * _GDF_WIDTH[int(t)] for n, t in zip(spr, types, strict=True)))
        if n_records < 0:
            raise NeurospellError(
                "the GDF header does not state the number of data records (-1: the recording was "
                "not closed)"
            )
        end = n_header + n_records * record
        if size < end:
            raise NeurospellError(
                f"the file is truncated: its header announces {n_records} data records ({end} bytes) "
                f"but it has {size} bytes"
            )
        if size == end:
            return
        f.seek(end)  # the event table: mode, count, then positions, types (, channels, durations)
        et = f.read(8)
        if len(et) < 8 or et[0] not in (1, 3):
            raise NeurospellError(f"the GDF event table at byte {end} is corrupt or cut short")
        n_ev = int.from_bytes(et[1:4], "little") if version >= 1.94 else int.from_bytes(et[4:8], "little")
        need = end + 8 + n_ev * (6 if et[0] == 1 else 12)
        if size < need:
            raise NeurospellError(
                f"the file is truncated: its event table announces {n_ev} events ({need} bytes) "
                f"but it has {size} bytes"
            )


def _read_bci2000(path: Path):
    import mne

    rec = read_bci2000(path)
    info = mne.create_info(rec.ch_names, rec.sfreq, "eeg")
    raw = mne.io.RawArray(rec.signal, info, verbose="error")
    samples, descs = p3speller_markers(rec, group_trials=split_trials, source=path.name)
    if len(samples):
        raw.set_annotations(mne.Annotations(samples / rec.sfreq, 0.0, descs))
    return raw


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
}
