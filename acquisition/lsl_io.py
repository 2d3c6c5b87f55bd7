"""Lab Streaming Layer: an EEG (+ markers) inlet source.

The outlets live in :mod:`.lsl_outlets`, stream discovery (marker stream types, XPath
predicates, :func:`list_streams`) in :mod:`.lsl_discovery`; both are re-exported here.
pylsl is always obtained through :func:`neurospell.lsl.get_pylsl` (loopback-only discovery
unless the ``[lsl]`` config says otherwise).
"""

from __future__ import annotations

import time

import numpy as np

from neurospell.check import NeurospellError, StreamError, check_positive, validate_type
from neurospell.logs import logger
from neurospell.lsl import get_pylsl
from neurospell.types import MarkerEvent
from neurospell.units import is_declared, unit_scales

from .base import BaseSource, marker_code
from .lsl_discovery import (
    MARKER_SUFFIXES,
    MARKER_TYPES,
    _describe,
    _predicate,
    _quoted,
    _resolve,
    _type_test,
    list_streams,
)
from .lsl_outlets import LslEegOutlet, LslMarkerOutlet

__all__ = ["LslSource", "LslEegOutlet", "LslMarkerOutlet", "list_streams", "MARKER_TYPES",
           "MARKER_SUFFIXES"]


class LslSource(BaseSource):
    """An LSL EEG stream (and optionally a marker stream) as a source.

    Parameters
    ----------
    name, stype, source_id : str | None
        Properties the EEG stream must match (at least one). The type is compared
        regardless of case (MNE-LSL publishes ``"eeg"``, most apps ``"EEG"``).
    marker_name : str | None
        Name of a marker stream to read as well (string or integer markers, or MNE-LSL
        annotations); its type must be ``marker_type`` or ``"annotations"`` (any case).
    marker_type : str
        Type of marker streams (default ``"Markers"``; ``"annotations"`` is always accepted).
    find_markers : bool
        With ``marker_name=None``: look for the marker stream that belongs to the EEG
        stream and read it (see Notes). ``False`` reads no markers.
    timeout : float
        Seconds to wait for the streams to be found.
    buffer_seconds, poll_interval, stall_timeout, gap_tolerance : float
        See :class:`~neurospell.acquisition.base.BaseSource`.

    Attributes
    ----------
    marker_stream : str | None
        After :meth:`start`: the name of the marker stream read, ``None`` when none is.
    marker_rule : str
        After :meth:`start`: why that marker stream was chosen, or why none was.

    Notes
    -----
    **Which marker stream belongs to an EEG stream** (``find_markers=True``; the stream
    used, and why, is logged and kept in :attr:`marker_stream` / :attr:`marker_rule`), the
    first rule that finds one wins; marker streams are those whose type is one of
    :data:`MARKER_TYPES` (any case):

    1. its source id is the EEG stream's source id followed by ``-markers`` or
       ``-annotations``, or equals it (one device publishing both);
    2. its name is the EEG stream's name followed by ``-markers`` (neurospell's
       ``replay --as-lsl`` and ``stream``) or ``-annotations`` (MNE-LSL's ``PlayerLSL``);
    3. it is the only marker stream visible.

    When none of these finds one (no marker stream, or several that do not belong to the
    EEG stream by rule 1 or 2) the source reads no markers and logs a warning naming the
    streams it saw; name the stream explicitly with ``marker_name`` then.

    Inlets use LSL clock synchronisation (``proc_clocksync``) and ``proc_monotonize`` but
    not ``proc_dejitter``: de-jittering would replace the sender's timestamps by a
    regression line, so they would no longer be the ones it pushed. A lost stream (its
    outlet process died) is re-resolved with the same properties every 0.5 s until it
    comes back; the missing stretch is recorded in :attr:`gaps` (``kind="lost"``) with
    its size estimated from the timestamps on both sides. Channel values are brought to
    volts from the unit each channel declares by :func:`neurospell.units.unit_scale` (a
    channel without a unit is taken as volts; a warning names such EEG channels).

    MNE-LSL's annotation stream (type ``"annotations"``) is read as markers: in its default
    one-hot encoding it has one float channel per annotation description and sends one
    sample per annotation whose description's channel holds the duration (``-1`` for a
    zero duration) and the others ``0``, so each non-zero channel becomes a marker labelled
    with that channel's description; in its ``"string"`` encoding the description is the
    sample, like any string marker stream.
    """

    kind = "lsl"

    def __init__(self, name=None, stype="EEG", source_id=None, *, marker_name=None, marker_type="Markers",
                 find_markers=False, timeout=5.0, buffer_seconds=30.0, poll_interval=0.005, stall_timeout=2.0,
                 gap_tolerance=0.05):
        super().__init__(buffer_seconds=buffer_seconds, poll_interval=poll_interval, stall_timeout=stall_timeout,
                         gap_tolerance=gap_tolerance)
        for key, value in (("name", name), ("stype", stype), ("source_id", source_id), ("marker_name", marker_name),
                           ("marker_type", marker_type)):
            validate_type(value, (str, None), key)
        validate_type(find_markers, bool, "find_markers")
        if name is None and source_id is None and stype is None:
            raise NeurospellError("LslSource needs at least one of name, stype or source_id to find the stream.")
        self.name = name
        self.stype = stype
        self.source_id = source_id
        self.marker_name = marker_name
        self.marker_type = marker_type or "Markers"
        self.find_markers = find_markers
        self.timeout = check_positive("timeout", timeout)
        #: An :class:`LslMarkerOutlet` used by :meth:`insert_marker` (set it to send markers).
        self.marker_outlet: LslMarkerOutlet | None = None
        self.marker_stream: str | None = None
        self.marker_rule = "not started"
        self._inlet = None
        self._minlet = None
        self._mlabels = None
        #: How many times the EEG stream was lost (each loss is followed by re-resolving).
        self.n_lost = 0

    def __repr__(self):
        return f"LslSource({_describe(self.name, self.stype, self.source_id)})"

    def describe(self) -> dict:
        return {"kind": self.kind, "name": self.name, "type": self.stype, "source_id": self.source_id,
                "marker_name": self.marker_stream if self._running else self.marker_name,
                "marker_rule": self.marker_rule}

    def _marker_types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([self.marker_type.lower(), *MARKER_TYPES]))

    # ---------------------------------------------------------------- connect
    def _not_found(self, what: str) -> StreamError:
        try:
            visible = [f"{s['name']} ({s['type']})" for s in list_streams(0.5)]
        except Exception:  # pragma: no cover
            visible = []
        return StreamError(
            f"No LSL stream matching {what} was found within {self.timeout:g} s. Streams visible: "
            f"{', '.join(visible) if visible else 'none'}. Start the outlet, check the name "
            "(`neurospell devices` lists the streams) or raise the timeout; for streams on other "
            "machines set resolve_scope/known_peers in the [lsl] config."
        )

    def _make_inlet(self, info):
        pylsl = get_pylsl()
        inlet = pylsl.StreamInlet(info, max_buflen=max(1, int(np.ceil(self.buffer_seconds))), recover=False,
                                  processing_flags=pylsl.proc_clocksync | pylsl.proc_monotonize)
        inlet.open_stream(self.timeout)
        return inlet

    def _find_marker_stream(self, eeg_info):
        """The marker stream that belongs to ``eeg_info`` by the rules of the class Notes, and the rule."""
        pylsl = self._pylsl
        types = _type_test(self._marker_types())
        name, sid = eeg_info.name(), eeg_info.source_id()
        by_sid = [sid + sfx for sfx in MARKER_SUFFIXES] + ([sid] if sid else [])
        by_name = [name + sfx for sfx in MARKER_SUFFIXES]
        alternatives = [f"source_id={_quoted('source_id', v)}" for v in by_sid if v]
        alternatives += [f"name={_quoted('name', v)}" for v in by_name]
        found = pylsl.resolve_bypred(f"{types} and ({' or '.join(alternatives)})", 1, min(self.timeout, 2.0))
        sid_alternatives = [a for a in alternatives if a.startswith("source_id=")]
        if found and sid_alternatives and not any(i.source_id() in by_sid for i in found):
            # the source-id rule comes first: look briefly for a stream it finds as well
            found = list(pylsl.resolve_bypred(f"{types} and ({' or '.join(sid_alternatives)})", 1, 0.5)) + found
        for info in found:
            if info.source_id() in by_sid and info.source_id():
                return info, f"its source id {info.source_id()!r} belongs to the EEG stream's {sid!r}"
        for info in found:
            if info.name() in by_name:
                return info, f"its name is the EEG stream's name + {info.name()[len(name):]!r}"
        every = pylsl.resolve_bypred(types, 64, min(self.timeout, 1.0))
        if len(every) == 1:
            return every[0], "it is the only marker stream visible"
        if not every:
            return None, (f"no marker stream (type {' / '.join(self._marker_types())}) is visible; "
                          "recording the EEG without markers")
        names = ", ".join(sorted(f"{i.name()!r}" for i in every))
        return None, (f"{len(every)} marker streams are visible ({names}) and none belongs to {name!r} by "
                      "source id or name; reading no markers. Name one with 'lsl:NAME+MARKERS' "
                      "(marker_name=...)")

    def _open(self) -> None:
        pylsl = self._pylsl = get_pylsl()
        info = _resolve(_predicate(self.name, self.stype, self.source_id), self.timeout)
        if info is None:
            raise self._not_found(_describe(self.name, self.stype, self.source_id))
        minfo = None
        if self.marker_name is not None:
            minfo = _resolve(_predicate(self.marker_name, self._marker_types(), None), self.timeout)
            if minfo is None:
                raise self._not_found(_describe(self.marker_name, " / ".join(self._marker_types()), None))
            self.marker_rule = "named by marker_name"
        elif self.find_markers:
            minfo, self.marker_rule = self._find_marker_stream(info)
        else:
            self.marker_rule = "no marker stream requested"
        sfreq = info.nominal_srate()
        if sfreq <= 0:
            raise StreamError(f"The LSL stream {info.name()!r} has an irregular rate; an EEG source needs a nominal sampling rate.")
        if info.channel_format() == pylsl.cf_string:
            raise StreamError(f"The LSL stream {info.name()!r} carries strings, not samples; is it a marker stream?")
        inlet = self._make_inlet(info)
        full = inlet.info(self.timeout)
        n = full.channel_count()
        labels = full.get_channel_labels() or [None] * n
        types = full.get_channel_types() or [None] * n
        units = full.get_channel_units() or [None] * n
        default_type = "eeg" if (full.type() or "").upper() == "EEG" else "misc"
        self.ch_names = tuple(lab or f"ch{i + 1}" for i, lab in enumerate(labels))
        self.ch_types = tuple((t or default_type).lower() for t in types)
        self._scale = np.array(unit_scales(units), dtype=np.float64)[:, None]
        self._needs_scale = bool(np.any(self._scale != 1.0))
        undeclared = [c for c, t, u in zip(self.ch_names, self.ch_types, units, strict=True)
                      if t == "eeg" and not is_declared(u)]
        if undeclared:
            logger.warning(
                "%s: %d EEG channel(s) declare no unit (%s); their values are taken as volts "
                "(neurospell.units). Declare the unit in the outlet's desc/channels if they are not.",
                self, len(undeclared), ", ".join(undeclared[:5]) + (", ..." if len(undeclared) > 5 else ""),
            )
        self.sfreq = float(sfreq)
        self._info_props = (full.name(), full.type(), full.source_id())
        self._inlet = inlet
        self._dtype = np.dtype(inlet.np_dtype)  # the stream's own format: liblsl writes into _buf
        self._max = max(16, int(self.sfreq))  # up to 1 s per pull
        self._buf = np.empty((self._max, n), dtype=self._dtype)
        self._last_ts = None
        self._lost_since = None
        self._minlet = self._make_inlet(minfo) if minfo is not None else None
        self._minfo_props = (minfo.name(), minfo.type(), minfo.source_id()) if minfo is not None else None
        self._mlabels = None
        if minfo is not None:
            mfull = self._minlet.info(self.timeout)
            if mfull.channel_format() != pylsl.cf_string and mfull.type().lower() == "annotations":
                self._mlabels = list(mfull.get_channel_labels() or [])
        self._mresolver = self._resolver_eeg = None
        self.marker_stream = minfo.name() if minfo is not None else None
        if minfo is not None:
            logger.info("%s: markers from the LSL stream %r (%s).", self, self.marker_stream, self.marker_rule)
        elif self.find_markers:
            logger.warning("%s: %s.", self, self.marker_rule)

    def _close(self) -> None:
        self._mresolver = self._resolver_eeg = None
        for attr in ("_inlet", "_minlet"):
            inlet = getattr(self, attr)
            setattr(self, attr, None)
            if inlet is not None:
                try:
                    inlet.close_stream()
                except Exception:  # pragma: no cover
                    pass

    # ---------------------------------------------------------------- thread
    def _pull(self):
        pylsl = self._pylsl  # cached: get_pylsl() re-checks the LSL config file on every call
        events = self._pull_markers(pylsl) if self._minfo_props is not None else []
        if self._inlet is None:
            self._reconnect_eeg()
            return (None, None, events) if events else None
        # Block until at least one sample, briefly, so stop() stays responsive.
        wait = self.poll_interval if self._minlet is not None else 0.1
        try:
            _, ts = self._inlet.pull_chunk(timeout=wait, max_samples=self._max, dest_obj=self._buf, min_samples=1)
        except pylsl.util.LostError:
            self._lost(pylsl)
            return (None, None, events) if events else None
        n = len(ts)
        if n == 0:
            return (None, None, events) if events else None
        data = self._buf[:n].T.astype(np.float64)
        if self._needs_scale:
            data *= self._scale
        ts = np.asarray(ts, dtype=np.float64)
        if self._last_ts is not None and ts[0] < self._last_ts:
            ts = np.maximum(ts, self._last_ts)  # after a re-resolve: keep the stream monotonic
        self._gap_from_timestamps(self._last_ts, ts, "lost" if self._lost_since else "missing")
        self._lost_since = None
        self._last_ts = float(ts[-1])
        return data, ts, events

    def _pull_markers(self, pylsl) -> list[MarkerEvent]:
        if self._minlet is None:
            self._minlet = self._reconnect(self._mresolver, self._minfo_props, "marker stream")
            if self._minlet is not None:
                self._mresolver = None
            return []
        try:
            values, ts = self._minlet.pull_chunk(timeout=0.0, max_samples=256)
        except pylsl.util.LostError:
            logger.warning("%s: the marker stream was lost; re-resolving it.", self)
            self._minlet = None
            self._mresolver = self._resolver(self._minfo_props)
            return []
        events = []
        for value, t in zip(values, ts, strict=False):
            for v in self._marker_values(value):
                code, label = marker_code(v)
                events.append(MarkerEvent(t, code, label))
        return events

    def _marker_values(self, value) -> list:
        """The marker(s) one sample of the marker stream carries."""
        if self._mlabels is not None:  # MNE-LSL one-hot annotations: the description of each non-zero channel
            row = np.asarray(value, dtype=np.float64)
            return [self._mlabels[i] for i in np.flatnonzero(np.nan_to_num(row) != 0) if i < len(self._mlabels)]
        v = value[0]
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return [v]

    def _resolver(self, props):
        """A background resolver for a lost stream (non-blocking: the thread keeps running)."""
        name, stype, source_id = props
        return self._pylsl.ContinuousResolver(pred=_predicate(name, stype, source_id), forget_after=1.0)

    def _lost(self, pylsl) -> None:
        logger.warning("%s: the stream was lost; re-resolving it.", self)
        try:
            self._inlet.close_stream()
        except Exception:  # pragma: no cover
            pass
        self._inlet = None
        self._lost_since = time.monotonic()
        self._resolver_eeg = self._resolver(self._info_props)
        self.n_lost += 1

    def _reconnect_eeg(self) -> None:
        inlet = self._reconnect(self._resolver_eeg, self._info_props, "stream")
        if inlet is None:
            self._stop.wait(0.02)  # nothing to pull meanwhile: do not spin
            return
        try:
            full = inlet.info(self.timeout)
        except (self._pylsl.util.LostError, self._pylsl.util.TimeoutError):
            # a stale entry of the dead outlet that opened, then went (seen in CI): try again
            try:
                inlet.close_stream()
            except Exception:  # noqa: BLE001 - the stream is gone already
                pass
            return
        if full.channel_count() != len(self.ch_names) or full.nominal_srate() != self.sfreq:
            raise StreamError(
                f"The LSL stream {full.name()!r} came back with {full.channel_count()} channels at "
                f"{full.nominal_srate()} Hz instead of {len(self.ch_names)} at {self.sfreq} Hz."
            )
        self._inlet, self._resolver_eeg = inlet, None

    def _reconnect(self, resolver, props, what):
        """An inlet on the stream once ``resolver`` sees it again, else ``None``."""
        pylsl = self._pylsl
        found = resolver.results()
        if not found:
            return None
        try:
            inlet = pylsl.StreamInlet(found[0], max_buflen=max(1, int(np.ceil(self.buffer_seconds))), recover=False,
                                      processing_flags=pylsl.proc_clocksync | pylsl.proc_monotonize)
            inlet.open_stream(0.5)
        except (pylsl.util.LostError, pylsl.util.TimeoutError):
            return None  # a stale entry of the dead outlet; try again on the next poll
        logger.warning("%s: %s %r re-resolved; resuming.", self, what, props[0])
        return inlet

    def _insert_marker(self, code: int, label: str, timestamp: float | None = None) -> None:
        if self.marker_outlet is None:
            raise StreamError(
                f"{self} has no marker outlet: set source.marker_outlet = LslMarkerOutlet(...) "
                "(and read that stream with marker_name=...) to send markers."
            )
        self.marker_outlet.push(label, timestamp)
