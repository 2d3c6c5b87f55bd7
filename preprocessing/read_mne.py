"""Formats read through MNE's readers: FIF, EDF/BDF, BrainVision and EEGLAB.

Each reader checks the file's structure first (MNE alone would read the samples up to a
cut), reads with :func:`_read_mne` (which refuses MNE's truncation warnings) and maps the
format's markers to neurospell's annotations (:mod:`.read_events`).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError
from neurospell.logs import logger
from neurospell.markers import parse_flash, parse_trial

from .read_events import _events_to_annotations, _marker_to_description

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
