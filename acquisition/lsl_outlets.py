"""Lab Streaming Layer outlets: publish EEG samples and string markers.

pylsl is always obtained through :func:`neurospell.lsl.get_pylsl` (loopback-only discovery
unless the ``[lsl]`` config says otherwise).
"""

from __future__ import annotations

import numpy as np

from neurospell.check import NeurospellError, StreamError, check_positive, validate_type
from neurospell.lsl import get_pylsl
from neurospell.types import SampleChunk

from .base import marker_code


class _OutletBase:
    _outlet = None

    def have_consumers(self) -> bool:
        """Whether at least one inlet is connected."""
        return bool(self._outlet.have_consumers())

    def wait_for_consumers(self, timeout: float) -> bool:
        """Block until an inlet connects or ``timeout`` seconds pass; ``True`` if one did."""
        check_positive("timeout", timeout, strict=False)
        return bool(self._outlet.wait_for_consumers(float(timeout)))

    def close(self) -> None:
        """Remove the stream from the network (idempotent)."""
        outlet, self._outlet = self._outlet, None
        if outlet is not None:
            del outlet

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _check_open(self):
        if self._outlet is None:
            raise StreamError(f"{type(self).__name__} {self.name!r} is closed.")


class LslEegOutlet(_OutletBase):
    """Publish multichannel samples on LSL (EEG channels in volts, declared as ``"volts"``).

    Parameters
    ----------
    name : str
        Stream name.
    ch_names, ch_types : sequence of str
        Channel names and MNE types (written to the stream's ``desc/channels``).
    sfreq : float
        Nominal sampling rate in Hz (> 0).
    source_id : str | None
        Unique id so inlets can recover the stream; default ``"neurospell-<name>"``.
    chunk_size : int
        Preferred chunk size in samples (0: as pushed).
    dtype : ``"float32"`` | ``"float64"``
        LSL channel format.
    stype : str
        Stream type (default ``"EEG"``).
    meta : dict | None
        Extra text fields written to the stream's ``desc/neurospell`` (e.g. a simulated
        participant's ``marker_stream``).
    """

    def __init__(self, name, ch_names, ch_types, sfreq, *, source_id=None, chunk_size=0,
                 dtype="float32", stype="EEG", meta=None):
        validate_type(name, str, "name")
        if not name:
            raise NeurospellError("name must be a non-empty stream name.")
        self.ch_names = tuple(str(c) for c in ch_names)
        self.ch_types = tuple(str(c) for c in ch_types)
        if not self.ch_names or len(self.ch_types) != len(self.ch_names):
            raise NeurospellError(
                f"ch_names and ch_types must be non-empty and of equal length, got {len(self.ch_names)} "
                f"names and {len(self.ch_types)} types."
            )
        self.sfreq = check_positive("sfreq", sfreq)
        if dtype not in ("float32", "float64"):
            raise NeurospellError(f"Invalid value for the 'dtype' parameter. Allowed values are 'float32', 'float64', but got {dtype!r} instead.")
        self.name = name
        self.source_id = source_id or f"neurospell-{name}"
        pylsl = get_pylsl()
        fmt = pylsl.cf_float32 if dtype == "float32" else pylsl.cf_double64
        self._np_dtype = np.float32 if dtype == "float32" else np.float64
        info = pylsl.StreamInfo(name, stype, len(self.ch_names), self.sfreq, fmt, self.source_id)
        chans = info.desc().append_child("channels")
        for ch, kind in zip(self.ch_names, self.ch_types, strict=True):
            c = chans.append_child("channel")
            c.append_child_value("label", ch)
            c.append_child_value("type", kind)
            c.append_child_value("unit", "volts" if kind in ("eeg", "eog", "ecg", "emg") else "none")
        info.desc().append_child_value("manufacturer", "neurospell")
        if meta:
            node = info.desc().append_child("neurospell")
            for key, value in meta.items():
                node.append_child_value(str(key), str(value))
        self._outlet = pylsl.StreamOutlet(info, int(chunk_size), 360)

    def __repr__(self):
        return f"LslEegOutlet({self.name!r}, {len(self.ch_names)} ch @ {self.sfreq:g} Hz)"

    def push(self, data, timestamps=None) -> None:
        """Push samples.

        Parameters
        ----------
        data : array, shape (n_channels, n_samples)
        timestamps : array, shape (n_samples,) | float | None
            LSL times of each sample, the time of the last sample, or ``None`` (now).
        """
        self._check_open()
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[0] != len(self.ch_names):
            raise NeurospellError(
                f"data must have shape (n_channels={len(self.ch_names)}, n_samples), got {data.shape}."
            )
        if data.shape[1] == 0:
            return
        samples = np.ascontiguousarray(data.T, dtype=self._np_dtype)
        if timestamps is None:
            self._outlet.push_chunk(samples)
            return
        ts = np.asarray(timestamps, dtype=np.float64)
        if ts.ndim == 0:
            self._outlet.push_chunk(samples, float(ts))
            return
        if ts.shape != (data.shape[1],):
            raise NeurospellError(f"timestamps must have shape ({data.shape[1]},), got {ts.shape}.")
        self._outlet.push_chunk(samples, ts.tolist())

    def push_chunk(self, chunk: SampleChunk) -> None:
        """Push a :class:`~neurospell.types.SampleChunk` with its own timestamps."""
        validate_type(chunk, SampleChunk, "chunk")
        if chunk.n_channels != len(self.ch_names):
            raise NeurospellError(
                f"chunk has {chunk.n_channels} channels but the outlet {self.name!r} has {len(self.ch_names)}."
            )
        self.push(chunk.data, chunk.timestamps)


class LslMarkerOutlet(_OutletBase):
    """Publish string markers (irregular rate), e.g. the speller's ``"flash:3"`` strings.

    Parameters
    ----------
    name : str
    source_id : str | None
        Default ``"neurospell-<name>"``.
    stype : str
        Stream type (default ``"Markers"``).
    """

    def __init__(self, name="neurospell-markers", *, source_id=None, stype="Markers"):
        validate_type(name, str, "name")
        self.name = name
        self.source_id = source_id or f"neurospell-{name}"
        pylsl = get_pylsl()
        info = pylsl.StreamInfo(name, stype, 1, pylsl.IRREGULAR_RATE, pylsl.cf_string, self.source_id)
        self._outlet = pylsl.StreamOutlet(info)

    def __repr__(self):
        return f"LslMarkerOutlet({self.name!r})"

    def push(self, label, timestamp: float | None = None) -> None:
        """Push one marker (a str, or an int code sent as its string).

        Parameters
        ----------
        label : str | int
        timestamp : float | None
            Onset on the LSL clock, seconds (e.g. when the display showed the flash; may be
            in the past); inlets receive it as the marker's timestamp. ``None``: now.
        """
        self._check_open()
        if timestamp is not None and not np.isfinite(float(timestamp)):
            raise NeurospellError(f"timestamp must be a finite LSL time in seconds or None, got {timestamp!r}.")
        if not isinstance(label, str):
            marker_code(label)  # validates
            label = str(int(label))
        if timestamp is None:
            self._outlet.push_sample([label])
        else:
            self._outlet.push_sample([label], float(timestamp))
