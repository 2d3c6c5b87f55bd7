"""The one feed loop: a reader's sample chunks and markers into a stream driver.

Every path that runs a speller over streamed data reads the same way: a reader
(``read() -> (chunk | None, markers)``: a live source's
:class:`~neurospell.acquisition.Reader`, a recording's
:class:`~neurospell.session.replay.RecordingReader`, a session folder's
:class:`~neurospell.session.rawlogs.RawlogReader`) -> optionally a
:class:`~neurospell.acquisition.GapIndexer` (samples re-indexed on the stream's clock, cut
at gaps) -> a sink's ``push(chunk, markers)`` (a
:class:`~neurospell.session.drivers.StreamDriver`, or :class:`EpocherSink` for epochs
alone) -> at the end ``finish()``.

:func:`feed_chunk` is one step of that loop (what a live session does with each read);
:func:`feed` is the loop.
"""

from __future__ import annotations

from collections.abc import Callable

from neurospell.check import NeurospellError, check_option
from neurospell.types import EpochBatch

__all__ = ["feed", "feed_chunk", "EpocherSink"]


class EpocherSink:
    """An :class:`~neurospell.preprocessing.OnlineEpocher` as a feed's sink (epochs, no decoding)."""

    def __init__(self, epocher):
        self.epocher = epocher

    def push(self, chunk=None, markers=()) -> EpochBatch:
        self.epocher.push_markers(markers)
        return self.epocher.update(chunk)

    def finish(self, *, decide: bool = True) -> EpochBatch:
        return self.epocher.flush()


def feed_chunk(sink, chunk, markers=(), *, indexer=None, on_piece: Callable | None = None) -> list[EpochBatch]:
    """Give one read (a chunk, or markers alone) to ``sink``; returns the non-empty batches.

    With ``indexer`` (a :class:`~neurospell.acquisition.GapIndexer`) the chunk is cut at
    gaps and re-indexed first; the markers go with its last piece. ``on_piece(chunk)`` is
    called with each piece before it is pushed (a live session records it).
    """
    if chunk is None or indexer is None:
        pieces = [chunk]
    else:
        pieces = indexer.split(chunk)
    out = []
    for i, piece in enumerate(pieces):
        if on_piece is not None and piece is not None:
            on_piece(piece)
        b = sink.push(piece, markers if i == len(pieces) - 1 else ())
        if len(b):
            out.append(b)
    return out


def feed(reader, sink, *, indexer=None, stop: Callable[[], bool] | None = None, poll: float = 0.05,
         on_read: Callable | None = None, on_batch: Callable | None = None,
         end: str | None = "finish") -> list[EpochBatch]:
    """Read ``reader`` into ``sink`` until it is exhausted (or ``stop()``), then end the stream.

    Parameters
    ----------
    reader : object with ``read() -> (SampleChunk | None, list of MarkerEvent)``
        A recording's reader ends by itself (``exhausted``); a live source's reader runs
        until ``stop()`` returns ``True``, waiting up to ``poll`` seconds for new samples
        between reads (``reader.wait``).
    sink : StreamDriver | EpocherSink
        ``push(chunk, markers) -> EpochBatch`` and ``finish(decide=...) -> EpochBatch``.
    indexer : GapIndexer | None
        Cut and re-index the chunks at gaps (:func:`feed_chunk`).
    stop : callable ``() -> bool`` | None
    poll : float
    on_read : callable ``(chunk, markers) -> None`` | None
        Called with every read that brought something, before it is fed.
    on_batch : callable ``(EpochBatch) -> None`` | None
        Called with every non-empty batch of epochs as it is completed.
    end : ``"finish"`` | ``"flush"`` | None
        ``"finish"``: the stream ended, decide every open selection
        (``sink.finish()``); ``"flush"``: the stream was cut short (a crash): drop the
        flashes still waiting for samples and decide nothing (``sink.finish(decide=False)``);
        ``None``: leave the sink open.

    Returns
    -------
    batches : list of EpochBatch
        The non-empty batches, in order.
    """
    check_option("end", end, ("finish", "flush", None))
    if stop is None and not hasattr(reader, "exhausted"):
        raise NeurospellError(
            "feed: a live reader never ends by itself; pass stop=callable returning True when the "
            "stream should end.")
    batches: list[EpochBatch] = []

    def keep(bs):
        for b in bs:
            batches.append(b)
            if on_batch is not None:
                on_batch(b)

    while stop is None or not stop():
        chunk, markers = reader.read()
        if chunk is None and not markers:
            if getattr(reader, "exhausted", False):
                break
            if hasattr(reader, "wait"):
                reader.wait(poll)
            continue
        if on_read is not None:
            on_read(chunk, markers)
        keep(feed_chunk(sink, chunk, markers, indexer=indexer))
    if end is not None:
        b = sink.finish(decide=end == "finish")
        if len(b):
            keep([b])
    return batches
