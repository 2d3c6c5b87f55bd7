"""neurospell.acquisition: EEG sources (BrainFlow boards, LSL streams), LSL outlets, recorder.

Each source runs one acquisition thread that fills a ring buffer; any number of readers
(``source.reader()``) take what arrived since their last read. Sample values are in volts,
timestamps on the LSL local clock.
"""

from __future__ import annotations

from neurospell.check import NeurospellError, validate_type
from neurospell.config import AcquisitionConfig

from .base import BaseSource, Gap, Reader, marker_code
from .brainflow_source import BrainFlowSource, board_ids, resolve_board_id
from .gaps import GapIndexer, gap_steps
from .lsl_io import LslEegOutlet, LslMarkerOutlet, LslSource, list_streams
from .recorder import Recorder
from .ring import RingBuffer

__all__ = [
    "BaseSource", "Reader", "Gap", "RingBuffer", "marker_code", "GapIndexer", "gap_steps",
    "BrainFlowSource", "board_ids", "resolve_board_id",
    "LslEegOutlet", "LslMarkerOutlet", "LslSource", "list_streams",
    "Recorder", "open_source",
]


def open_source(spec: str, config=None) -> BaseSource:
    """A (not yet started) source from a short spec and the ``[acquisition]`` config.

    Parameters
    ----------
    spec : str
        ``"synthetic"``; ``"playback:FILE"`` (a BrainFlow file recorded by the synthetic
        board unless ``board_params.master_board`` says otherwise); a BrainFlow board name
        or id (``board_params`` from the config); ``"lsl:NAME"`` (an LSL EEG stream of that
        name, its type compared regardless of case, with the marker stream that belongs to
        it: same source id + ``-markers``/``-annotations``, else named ``NAME-markers`` /
        ``NAME-annotations``, else the only marker stream visible; see
        :class:`~neurospell.acquisition.LslSource`); ``"lsl:NAME+MARKERS"`` names the
        marker stream.
    config : AcquisitionConfig | None
        Buffer length, poll interval, timeouts and BrainFlow input params.
    """
    config = AcquisitionConfig() if config is None else config
    validate_type(spec, str, "spec")
    common = dict(buffer_seconds=config.buffer_seconds, poll_interval=config.poll_interval,
                  stall_timeout=config.stall_timeout, gap_tolerance=config.gap_tolerance)
    text = spec.strip()
    if not text:
        raise NeurospellError("spec must be 'synthetic', 'playback:FILE', a BrainFlow board name/id or 'lsl:NAME'.")
    if text.lower().startswith("lsl:"):
        name = text[4:]
        marker_name = None
        if "+" in name:
            name, marker_name = name.split("+", 1)
        if not name:
            raise NeurospellError(f"spec {spec!r}: give the LSL stream name after 'lsl:', e.g. 'lsl:MyAmp'.")
        return LslSource(name, config.lsl_eeg_type, marker_name=marker_name or None,
                         marker_type=config.lsl_marker_type, find_markers=not marker_name,
                         timeout=config.resolve_timeout, **common)
    params = dict(config.board_params)
    if text.lower().startswith("playback:"):
        params["file"] = text.split(":", 1)[1]
        params.setdefault("master_board", "synthetic")
        return BrainFlowSource("playback", params, **common)
    return BrainFlowSource(text, params, **common)
