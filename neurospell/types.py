"""The data passed between stages: frozen dataclasses, validated once at construction.

Arrays are converted and checked in ``__post_init__`` and made read-only, so a value that
exists is valid and cannot be changed behind its consumers' backs. Times are seconds on
the LSL local clock (``pylsl.local_clock()``) unless stated otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .check import NeurospellError

__all__ = [
    "SampleChunk",
    "MarkerEvent",
    "EpochBatch",
    "SpellerLayout",
    "CharDistribution",
    "Candidate",
    "CandidateList",
    "Decision",
    "WORD_CELL_SYMBOLS",
    "word_grid_symbols",
]


def _frozen_array(arr: np.ndarray) -> np.ndarray:
    # Always a private copy: freezing the caller's own buffer would break its writer.
    arr = np.array(arr, copy=True)
    arr.setflags(write=False)
    return arr


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


def _check_names(cls: str, fieldname: str, names, n: int) -> tuple[str, ...]:
    names = tuple(str(c) for c in names)
    if len(names) != n:
        raise NeurospellError(f"{cls}.{fieldname} must have {n} entries (one per channel), got {len(names)}.")
    return names


@dataclass(frozen=True, eq=False)
class SampleChunk:
    """Samples from a source, with one timestamp per sample.

    Parameters
    ----------
    data : array, shape (n_channels, n_samples)
        Signal values (float64), in volts for EEG channels.
    timestamps : array, shape (n_samples,)
        Seconds on the LSL local clock, non-decreasing.
    ch_names : tuple of str, length n_channels
    ch_types : tuple of str, length n_channels
        MNE channel types (``"eeg"``, ``"eog"``, ``"misc"``, ``"stim"``, ...).
    sfreq : float
        Nominal sampling rate in Hz (> 0).
    first_index : int | None
        Index of the first sample since the source started, if the source counts samples
        (lets readers detect gaps and prove alignment).
    """

    data: np.ndarray
    timestamps: np.ndarray
    ch_names: tuple[str, ...]
    ch_types: tuple[str, ...]
    sfreq: float
    first_index: int | None = None

    def __post_init__(self):
        data = np.asarray(self.data, dtype=np.float64)
        if data.ndim != 2:
            raise NeurospellError(f"SampleChunk.data must be 2-D (n_channels, n_samples), got shape {data.shape}.")
        ts = np.asarray(self.timestamps, dtype=np.float64)
        if ts.shape != (data.shape[1],):
            raise NeurospellError(
                f"SampleChunk.timestamps must have shape ({data.shape[1]},) to match data's "
                f"{data.shape[1]} samples, got {ts.shape}."
            )
        if ts.size and (not np.all(np.isfinite(ts)) or np.any(np.diff(ts) < 0)):
            raise NeurospellError("SampleChunk.timestamps must be finite and non-decreasing.")
        sfreq = float(self.sfreq)
        if not math.isfinite(sfreq) or sfreq <= 0:
            raise NeurospellError(f"SampleChunk.sfreq must be a finite number > 0, got {self.sfreq!r}.")
        _set(self, "ch_names", _check_names("SampleChunk", "ch_names", self.ch_names, data.shape[0]))
        _set(self, "ch_types", _check_names("SampleChunk", "ch_types", self.ch_types, data.shape[0]))
        if self.first_index is not None:
            _set(self, "first_index", int(self.first_index))
        _set(self, "data", _frozen_array(data))
        _set(self, "timestamps", _frozen_array(ts))
        _set(self, "sfreq", sfreq)

    @classmethod
    def _trusted(cls, data, timestamps, ch_names, ch_types, sfreq, first_index=None) -> SampleChunk:
        """Build a chunk without validation or copies, for the acquisition hot path.

        Only for producers that own freshly allocated ``data`` (float64, 2-D) and
        ``timestamps`` (float64, 1-D, non-decreasing) and whose stream description was
        validated once (at source start): the arrays are frozen in place, not copied.
        """
        obj = object.__new__(cls)
        data.setflags(write=False)
        timestamps.setflags(write=False)
        for name, value in (
            ("data", data),
            ("timestamps", timestamps),
            ("ch_names", ch_names),
            ("ch_types", ch_types),
            ("sfreq", sfreq),
            ("first_index", first_index),
        ):
            object.__setattr__(obj, name, value)
        return obj

    @property
    def n_channels(self) -> int:
        return self.data.shape[0]

    @property
    def n_samples(self) -> int:
        return self.data.shape[1]

    @staticmethod
    def concatenate(chunks: Sequence[SampleChunk]) -> SampleChunk:
        """Join chunks of the same stream in time order."""
        if not chunks:
            raise NeurospellError("SampleChunk.concatenate needs at least one chunk, got none.")
        first = chunks[0]
        for c in chunks[1:]:
            if c.ch_names != first.ch_names or c.sfreq != first.sfreq:
                raise NeurospellError(
                    "SampleChunk.concatenate: chunks differ in channels or sampling rate "
                    f"({first.ch_names}@{first.sfreq} vs {c.ch_names}@{c.sfreq})."
                )
        return SampleChunk(
            np.concatenate([c.data for c in chunks], axis=1),
            np.concatenate([c.timestamps for c in chunks]),
            first.ch_names,
            first.ch_types,
            first.sfreq,
            first.first_index,
        )


@dataclass(frozen=True)
class MarkerEvent:
    """One event marker (a flash onset, a trial start, ...).

    Parameters
    ----------
    timestamp : float
        Seconds on the LSL local clock.
    code : int
        Integer code. For flashes, the stimulus code: flash group index + 1 in the
        :class:`SpellerLayout` (see :mod:`neurospell.markers`).
    label : str
        Free text (the string form on LSL marker streams).
    """

    timestamp: float
    code: int
    label: str = ""

    def __post_init__(self):
        ts = float(self.timestamp)
        if not math.isfinite(ts):
            raise NeurospellError(f"MarkerEvent.timestamp must be finite, got {self.timestamp!r}.")
        try:
            code = int(self.code)
        except (TypeError, ValueError):
            raise NeurospellError(f"MarkerEvent.code must be an integer, got {self.code!r}.") from None
        _set(self, "timestamp", ts)
        _set(self, "code", code)
        _set(self, "label", str(self.label))


@dataclass(frozen=True, eq=False)
class EpochBatch:
    """Epochs cut around flash onsets, ready for a decoder.

    Parameters
    ----------
    data : array, shape (n_epochs, n_channels, n_times)
        float32, volts.
    codes : array of int, shape (n_epochs,)
        Stimulus code of each flash (flash group index + 1; 0 when unknown).
    onsets : array of float, shape (n_epochs,)
        Flash onset times in seconds (LSL clock online, recording time offline).
    tmin : float
        Time of the first sample of each epoch relative to its onset, seconds.
    sfreq : float
        Sampling rate of ``data`` in Hz.
    ch_names : tuple of str
    targets : array of bool, shape (n_epochs,) | None
        Whether each flash contained the attended symbol (calibration), ``None`` online.
    trials : array of int, shape (n_epochs,) | None
        Index of the character (trial) each flash belongs to, for cross-validation by
        character and for accumulating evidence per selection.
    recording : array of int, shape (n_epochs,) | None
        Index of the recording each epoch came from when several are pooled (per-recording
        alignment, :mod:`neurospell.decoder.alignment`); ``None``: one recording.
    """

    data: np.ndarray
    codes: np.ndarray
    onsets: np.ndarray
    tmin: float
    sfreq: float
    ch_names: tuple[str, ...]
    targets: np.ndarray | None = None
    trials: np.ndarray | None = None
    recording: np.ndarray | None = None

    def __post_init__(self):
        data = np.asarray(self.data, dtype=np.float32)
        if data.ndim != 3:
            raise NeurospellError(
                f"EpochBatch.data must be 3-D (n_epochs, n_channels, n_times), got shape {data.shape}."
            )
        n = data.shape[0]
        codes = np.asarray(self.codes)
        if codes.shape != (n,) or (n and not np.issubdtype(codes.dtype, np.integer)):
            raise NeurospellError(f"EpochBatch.codes must be {n} integers, got shape {codes.shape} dtype {codes.dtype}.")
        onsets = np.asarray(self.onsets, dtype=np.float64)
        if onsets.shape != (n,):
            raise NeurospellError(f"EpochBatch.onsets must have shape ({n},), got {onsets.shape}.")
        sfreq = float(self.sfreq)
        if not math.isfinite(sfreq) or sfreq <= 0:
            raise NeurospellError(f"EpochBatch.sfreq must be a finite number > 0, got {self.sfreq!r}.")
        _set(self, "ch_names", _check_names("EpochBatch", "ch_names", self.ch_names, data.shape[1]))
        if self.targets is not None:
            t = np.asarray(self.targets)
            if t.shape != (n,):
                raise NeurospellError(f"EpochBatch.targets must have shape ({n},), got {t.shape}.")
            if t.dtype != bool:
                if not np.all(np.isin(t, (0, 1))):
                    raise NeurospellError("EpochBatch.targets must be booleans (or 0/1).")
                t = t.astype(bool)
            _set(self, "targets", _frozen_array(t))
        if self.trials is not None:
            tr = np.asarray(self.trials)
            if tr.shape != (n,) or (n and not np.issubdtype(tr.dtype, np.integer)):
                raise NeurospellError(f"EpochBatch.trials must be {n} integers, got shape {tr.shape}.")
            _set(self, "trials", _frozen_array(tr.astype(np.int64)))
        if self.recording is not None:
            rec = np.asarray(self.recording)
            if rec.shape != (n,) or (n and not np.issubdtype(rec.dtype, np.integer)):
                raise NeurospellError(f"EpochBatch.recording must be {n} integers, got shape {rec.shape}.")
            _set(self, "recording", _frozen_array(rec.astype(np.int64)))
        _set(self, "data", _frozen_array(data))
        _set(self, "codes", _frozen_array(codes.astype(np.int64)))
        _set(self, "onsets", _frozen_array(onsets))
        _set(self, "tmin", float(self.tmin))
        _set(self, "sfreq", sfreq)

    def __len__(self) -> int:
        return self.data.shape[0]

    @property
    def n_channels(self) -> int:
        return self.data.shape[1]

    @property
    def n_times(self) -> int:
        return self.data.shape[2]

    @property
    def times(self) -> np.ndarray:
        """Epoch sample times relative to onset, seconds, shape (n_times,)."""
        return self.tmin + np.arange(self.n_times) / self.sfreq

    def subset(self, index) -> EpochBatch:
        """Epochs selected by a boolean mask or integer index."""
        index = np.asarray(index)
        return EpochBatch(
            self.data[index],
            self.codes[index],
            self.onsets[index],
            self.tmin,
            self.sfreq,
            self.ch_names,
            None if self.targets is None else self.targets[index],
            None if self.trials is None else self.trials[index],
            None if self.recording is None else self.recording[index],
        )

    @staticmethod
    def concatenate(batches: Sequence[EpochBatch]) -> EpochBatch:
        """Join batches with the same channels, sampling rate and window."""
        if not batches:
            raise NeurospellError("EpochBatch.concatenate needs at least one batch, got none.")
        b0 = batches[0]
        for b in batches[1:]:
            if (b.ch_names, b.sfreq, b.tmin, b.n_times) != (b0.ch_names, b0.sfreq, b0.tmin, b0.n_times):
                raise NeurospellError(
                    "EpochBatch.concatenate: batches differ in channels, sampling rate or epoch window."
                )
        has_t = all(b.targets is not None for b in batches)
        has_tr = all(b.trials is not None for b in batches)
        has_rec = all(b.recording is not None for b in batches)
        return EpochBatch(
            np.concatenate([b.data for b in batches]),
            np.concatenate([b.codes for b in batches]),
            np.concatenate([b.onsets for b in batches]),
            b0.tmin,
            b0.sfreq,
            b0.ch_names,
            np.concatenate([b.targets for b in batches]) if has_t else None,
            np.concatenate([b.trials for b in batches]) if has_tr else None,
            np.concatenate([b.recording for b in batches]) if has_rec else None,
        )


@dataclass(frozen=True)
class SpellerLayout:
    """The speller's symbols and which of them light up together in each flash.

    Parameters
    ----------
    symbols : tuple of str
        The alphabet, in display order (row-major for a grid). ``" "`` is the space;
        ``"<"`` is backspace by convention.
    flash_groups : tuple of tuple of int
        For each flash group, the indices of the symbols it lights up. The stimulus code
        of group ``i`` is ``i + 1``.
    n_rows, n_cols : int
        Display grid shape (``n_rows * n_cols >= len(symbols)``).
    """

    symbols: tuple[str, ...]
    flash_groups: tuple[tuple[int, ...], ...]
    n_rows: int
    n_cols: int

    def __post_init__(self):
        symbols = tuple(str(s) for s in self.symbols)
        if not symbols or len(set(symbols)) != len(symbols):
            raise NeurospellError(f"SpellerLayout.symbols must be non-empty and unique, got {symbols!r}.")
        groups = tuple(tuple(int(i) for i in g) for g in self.flash_groups)
        if not groups:
            raise NeurospellError("SpellerLayout.flash_groups must contain at least one group.")
        for g in groups:
            if not g or min(g) < 0 or max(g) >= len(symbols):
                raise NeurospellError(
                    f"SpellerLayout.flash_groups: every group must hold symbol indices in [0, {len(symbols) - 1}], got {g}."
                )
        if int(self.n_rows) * int(self.n_cols) < len(symbols):
            raise NeurospellError(
                f"SpellerLayout: a {self.n_rows}x{self.n_cols} grid cannot show {len(symbols)} symbols."
            )
        _set(self, "symbols", symbols)
        _set(self, "flash_groups", groups)
        _set(self, "n_rows", int(self.n_rows))
        _set(self, "n_cols", int(self.n_cols))

    @classmethod
    def row_column(cls, symbols: Sequence[str] | str | None = None, n_rows: int = 6, n_cols: int = 6) -> SpellerLayout:
        """The classic row/column paradigm: groups 0..n_rows-1 are rows, then columns."""
        if symbols is None:
            symbols = DEFAULT_SYMBOLS
        symbols = tuple(symbols)
        if len(symbols) != n_rows * n_cols:
            raise NeurospellError(
                f"SpellerLayout.row_column: {n_rows}x{n_cols} grid needs {n_rows * n_cols} symbols, got {len(symbols)}."
            )
        rows = tuple(tuple(r * n_cols + c for c in range(n_cols)) for r in range(n_rows))
        cols = tuple(tuple(r * n_cols + c for r in range(n_rows)) for c in range(n_cols))
        return cls(symbols, rows + cols, n_rows, n_cols)

    @property
    def n_groups(self) -> int:
        return len(self.flash_groups)

    def membership(self) -> np.ndarray:
        """Boolean matrix, shape (n_groups, n_symbols): group ``g`` contains symbol ``s``."""
        m = np.zeros((len(self.flash_groups), len(self.symbols)), dtype=bool)
        for g, idx in enumerate(self.flash_groups):
            m[g, list(idx)] = True
        return m

    def groups_containing(self, symbol: str) -> tuple[int, ...]:
        """Indices of the flash groups that light up ``symbol``."""
        if symbol not in self.symbols:
            raise NeurospellError(f"Symbol {symbol!r} is not on the speller grid {''.join(self.symbols)!r}.")
        s = self.symbols.index(symbol)
        return tuple(g for g, idx in enumerate(self.flash_groups) if s in idx)


#: 6x6 grid: A-Z, 1-9, space ("_" is displayed for it).
DEFAULT_SYMBOLS: tuple[str, ...] = tuple("ABCDEFGHIJKLMNOPQRSTUVWXYZ123456789 ")

#: Word cells: symbol ``WORD_CELL_SYMBOLS[i]`` means "the i-th current word completion"
#: (:mod:`neurospell.session.wordcells`); one character each, so a grid stays a string.
WORD_CELL_SYMBOLS: tuple[str, ...] = tuple("\u2460\u2461\u2462\u2463\u2464\u2465\u2466\u2467\u2468\u2469")


def word_grid_symbols(n_symbols: int) -> str:
    """The symbols of the live word grid before its word cells: A-Z, space, backspace ``"<"``,
    then ``".?,!"`` and the digits as far as ``n_symbols`` (26 to 50) allows."""
    full = "ABCDEFGHIJKLMNOPQRSTUVWXYZ <.?,!0123456789"
    if not 28 <= int(n_symbols) <= len(full):
        raise NeurospellError(f"word_grid_symbols: n_symbols must be in [28, {len(full)}] (letters, space and "
                              f"backspace at least), got {n_symbols!r}.")
    return full[:int(n_symbols)]


@dataclass(frozen=True, eq=False)
class CharDistribution:
    """A probability distribution over the speller's symbols, in log space.

    Parameters
    ----------
    alphabet : tuple of str
    logp : array, shape (n_symbols,)
        Natural-log probabilities; ``logsumexp(logp) == 0`` within 1e-6. ``-inf`` is allowed.
    """

    alphabet: tuple[str, ...]
    logp: np.ndarray

    def __post_init__(self):
        alphabet = tuple(str(a) for a in self.alphabet)
        logp = np.asarray(self.logp, dtype=np.float64)
        if logp.shape != (len(alphabet),):
            raise NeurospellError(
                f"CharDistribution.logp must have shape ({len(alphabet)},) to match the alphabet, got {logp.shape}."
            )
        if np.any(np.isnan(logp)) or np.any(logp == np.inf):
            raise NeurospellError("CharDistribution.logp must not contain NaN or +inf.")
        total = _logsumexp(logp)
        if not abs(total) < 1e-6:
            raise NeurospellError(
                f"CharDistribution.logp must be normalised (logsumexp = 0), got {total:.3g}; "
                "build it with CharDistribution.from_scores to normalise."
            )
        _set(self, "alphabet", alphabet)
        _set(self, "logp", _frozen_array(logp))

    @classmethod
    def from_scores(cls, alphabet: Sequence[str], scores) -> CharDistribution:
        """Normalise unnormalised log-scores into a distribution."""
        scores = np.asarray(scores, dtype=np.float64)
        return cls(tuple(alphabet), scores - _logsumexp(scores))

    @classmethod
    def uniform(cls, alphabet: Sequence[str]) -> CharDistribution:
        n = len(alphabet)
        return cls(tuple(alphabet), np.full(n, -math.log(n)))

    @property
    def probs(self) -> np.ndarray:
        return np.exp(self.logp)

    def argmax(self) -> str:
        return self.alphabet[int(np.argmax(self.logp))]

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable symbols with their probabilities."""
        order = np.argsort(-self.logp, kind="stable")[:k]
        return [(self.alphabet[i], float(np.exp(self.logp[i]))) for i in order]

    def __getitem__(self, symbol: str) -> float:
        """Log-probability of ``symbol``."""
        return float(self.logp[self.alphabet.index(symbol)])


def _logsumexp(x: np.ndarray) -> float:
    m = np.max(x) if x.size else -np.inf
    if not np.isfinite(m):
        return float(m)
    return float(m + np.log(np.sum(np.exp(x - m))))


@dataclass(frozen=True)
class Candidate:
    """A candidate text with its total log-score and the parts it is made of."""

    text: str
    score: float
    eeg_score: float = 0.0
    lm_score: float = 0.0

    def __post_init__(self):
        _set(self, "text", str(self.text))
        for name in ("score", "eeg_score", "lm_score"):
            v = float(getattr(self, name))
            if math.isnan(v):
                raise NeurospellError(f"Candidate.{name} must not be NaN.")
            _set(self, name, v)


@dataclass(frozen=True)
class CandidateList:
    """Candidates sorted by descending score (sorted at construction)."""

    candidates: tuple[Candidate, ...] = field(default_factory=tuple)

    def __post_init__(self):
        cands = tuple(self.candidates)
        for c in cands:
            if not isinstance(c, Candidate):
                raise NeurospellError(f"CandidateList holds Candidate objects, got {type(c).__name__}.")
        _set(self, "candidates", tuple(sorted(cands, key=lambda c: -c.score)))

    def __len__(self) -> int:
        return len(self.candidates)

    def __iter__(self):
        return iter(self.candidates)

    def __getitem__(self, i) -> Candidate:
        return self.candidates[i]

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.candidates]


@dataclass(frozen=True)
class Decision:
    """A selection: the chosen symbol, its posterior, how many repetitions it took, when."""

    symbol: str
    posterior: float
    n_repetitions: int
    timestamp: float = float("nan")

    def __post_init__(self):
        p = float(self.posterior)
        if not 0.0 <= p <= 1.0 + 1e-9:
            raise NeurospellError(f"Decision.posterior must be in [0, 1], got {self.posterior!r}.")
        if int(self.n_repetitions) < 0:
            raise NeurospellError(f"Decision.n_repetitions must be >= 0, got {self.n_repetitions!r}.")
        _set(self, "symbol", str(self.symbol))
        _set(self, "posterior", min(p, 1.0))
        _set(self, "n_repetitions", int(self.n_repetitions))
        _set(self, "timestamp", float(self.timestamp))
