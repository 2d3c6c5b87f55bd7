"""The config sections, one frozen dataclass per stage.

Each stage receives only its own section. Validation runs in ``__post_init__`` and names
the section and key. Defaults live here and in ``defaults.toml`` (kept in sync by a test).
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field, replace

from ..check import NeurospellError, check_option
from ..types import DEFAULT_SYMBOLS, WORD_CELL_SYMBOLS, SpellerLayout, word_grid_symbols


def _positive(section: str, name: str, value, *, allow_zero: bool = False, allow_none: bool = False):
    if value is None and allow_none:
        return
    if value is None or value < 0 or (value == 0 and not allow_zero):
        rel = ">= 0" if allow_zero else "> 0"
        raise NeurospellError(f"Config [{section}] {name} must be {rel}, got {value!r}.")


@dataclass(frozen=True)
class LslConfig:
    """Lab Streaming Layer discovery. Default: this machine only (loopback)."""

    resolve_scope: str = "machine"
    known_peers: tuple[str, ...] = ("127.0.0.1",)
    ipv6: str = "disable"
    session_id: str = "default"

    def __post_init__(self):
        check_option("[lsl] resolve_scope", self.resolve_scope, ("machine", "link", "site", "organization", "global"))
        check_option("[lsl] ipv6", self.ipv6, ("disable", "allow", "force"))


@dataclass(frozen=True)
class AcquisitionConfig:
    """Where the EEG comes from and how it is buffered."""

    #: ``"synthetic"``, ``"playback"``, a BrainFlow board name or id, or ``"lsl:NAME"``.
    source: str = "synthetic"
    #: BrainFlow input params (``serial_port``, ``ip_address``, ``file``, ``master_board``...).
    board_params: dict = field(default_factory=dict)
    #: Ring-buffer length in seconds.
    buffer_seconds: float = 30.0
    #: How often the acquisition thread polls the device, seconds.
    poll_interval: float = 0.005
    #: LSL stream type searched when only a type is given.
    lsl_eeg_type: str = "EEG"
    lsl_marker_type: str = "Markers"
    #: Seconds to wait for a stream to be found.
    resolve_timeout: float = 5.0
    #: Seconds without samples before a stream counts as stalled/lost.
    stall_timeout: float = 2.0
    #: Seconds a timestamp step may exceed one sampling period before it counts as a gap
    #: (LSL senders that stamp at push time jitter by milliseconds).
    gap_tolerance: float = 0.05

    def __post_init__(self):
        if not isinstance(self.board_params, types.MappingProxyType):
            object.__setattr__(self, "board_params", types.MappingProxyType(dict(self.board_params)))
        for name in ("buffer_seconds", "poll_interval", "resolve_timeout", "stall_timeout"):
            _positive("acquisition", name, getattr(self, name))
        _positive("acquisition", "gap_tolerance", self.gap_tolerance, allow_zero=True)


@dataclass(frozen=True)
class PreprocessConfig:
    """Filtering and epoching, shared by the offline (MNE) and online (causal) paths."""

    #: Band-pass edges in Hz (``None`` disables that edge).
    l_freq: float | None = 0.5
    h_freq: float | None = 20.0
    #: Butterworth order of the causal IIR band-pass (online, and offline when ``phase='causal'``).
    filter_order: int = 4
    #: ``"causal"`` (SOS IIR, what the online path computes) or ``"zero-phase"`` (MNE FIR, offline only).
    phase: str = "causal"
    #: Line-noise frequency to notch (50 or 60 Hz), or ``None``.
    notch: float | None = None
    #: ``"average"``, ``"none"``, or channel names to re-reference to.
    reference: str | tuple[str, ...] = "none"
    #: Target sampling rate after decimation, Hz (``None`` keeps the input rate).
    resample_sfreq: float | None = None
    #: Epoch window relative to flash onset, seconds.
    tmin: float = 0.0
    tmax: float = 0.8
    #: Baseline window ``(start, end)`` in seconds, or ``None``.
    baseline: tuple[float, float] | None = None
    #: Peak-to-peak rejection threshold in microvolts, or ``None``.
    reject_uv: float | None = None

    def __post_init__(self):
        check_option("[preprocessing] phase", self.phase, ("causal", "zero-phase"))
        if self.l_freq is not None:
            _positive("preprocessing", "l_freq", self.l_freq)
        if self.h_freq is not None:
            _positive("preprocessing", "h_freq", self.h_freq)
        if self.l_freq is not None and self.h_freq is not None and self.l_freq >= self.h_freq:
            raise NeurospellError(
                f"Config [preprocessing] l_freq ({self.l_freq}) must be below h_freq ({self.h_freq})."
            )
        if self.filter_order < 1:
            raise NeurospellError(f"Config [preprocessing] filter_order must be >= 1, got {self.filter_order}.")
        _positive("preprocessing", "notch", self.notch, allow_none=True)
        _positive("preprocessing", "resample_sfreq", self.resample_sfreq, allow_none=True)
        _positive("preprocessing", "reject_uv", self.reject_uv, allow_none=True)
        if isinstance(self.reference, str) and self.reference not in ("average", "none"):
            object.__setattr__(self, "reference", (self.reference,))
        if self.tmax <= self.tmin:
            raise NeurospellError(
                f"Config [preprocessing] tmax ({self.tmax}) must be greater than tmin ({self.tmin})."
            )


@dataclass(frozen=True)
class DecoderConfig:
    """Which decoder and how it trains."""

    #: A registered decoder (``neurospell`` decoder registry). The default, xDAWN covariances +
    #: tangent space + logistic regression, measures best on the calibration a live session
    #: collects (as high an AUC as the hybrid network xdawnts-net, fitted in seconds instead of
    #: minutes; README "Decoder default", docs/decoder_results.md).
    name: str = "xdawncov-ts-lr"
    #: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    device: str = "auto"
    seed: int = 0
    max_epochs: int = 150
    batch_size: int = 64
    learning_rate: float = 1e-3
    #: Fraction of characters held out for early stopping.
    validation_fraction: float = 0.2
    patience: int = 20
    #: Character folds for neural decoders: >= 2 trains one network per fold (an ensemble).
    n_folds: int = 5

    def __post_init__(self):
        check_option("[decoder] device", self.device, ("auto", "cpu", "cuda"))
        for name in ("max_epochs", "batch_size", "learning_rate", "patience", "n_folds"):
            _positive("decoder", name, getattr(self, name))
        if not 0.0 < self.validation_fraction < 1.0:
            raise NeurospellError(
                f"Config [decoder] validation_fraction must be in (0, 1), got {self.validation_fraction}."
            )


@dataclass(frozen=True)
class LanguageModelConfig:
    """The language-model prior and its fusion with the EEG evidence."""

    #: A registered model (``neurospell lm list``): ``"everyday"`` (the shipped default: character
    #: transformer + character 7-gram + word trigram trained on everyday English, mixed with weights
    #: chosen on validation text, with a session cache; ``lm_fusion/data/everyday.json``),
    #: ``"mixture"`` (the previous default, Chit Chat only), ``"transformer"``, ``"ngram"``, ``"word"``,
    #: ``"uniform"``, ``"hf"``, ``"smollm2"``; or names joined by ``"+"`` for a linear mixture.
    name: str = "everyday"
    #: Local folder of a Hugging Face causal LM (for ``name = "hf"``), or ``""``.
    path: str = ""
    #: Exponent of the LM prior in the fusion (``0`` disables the LM). ``None`` (unset, the
    #: default): the weight chosen on calibration data and stored with the model by
    #: ``neurospell train``, or 1.0 for a model without one; a value here overrides it.
    alpha: float | None = None
    #: Floor probability so that no symbol is ever impossible to type.
    floor: float = 1e-3
    beam_width: int = 8
    n_completions: int = 5
    #: Prior probability of the backspace symbol ``"<"`` on grids that have one.
    backspace_p: float = 0.05

    def __post_init__(self):
        if self.alpha is not None:
            _positive("lm", "alpha", self.alpha, allow_zero=True)
        if not 0.0 < self.backspace_p < 1.0:
            raise NeurospellError(f"Config [lm] backspace_p must be in (0, 1), got {self.backspace_p}.")
        if not 0.0 < self.floor < 1.0:
            raise NeurospellError(f"Config [lm] floor must be in (0, 1), got {self.floor}.")
        _positive("lm", "beam_width", self.beam_width)
        _positive("lm", "n_completions", self.n_completions, allow_zero=True)


#: Word cells of the live default grid (6x6: A-Z, space, backspace, ".?" and 6 word cells).
DEFAULT_WORD_CELLS = 6


@dataclass(frozen=True)
class SpellerConfig:
    """The speller grid and the flashing schedule."""

    #: Symbols in row-major order; ``" "`` is space.
    symbols: str = "".join(DEFAULT_SYMBOLS)
    n_rows: int = 6
    n_cols: int = 6
    #: Stimulus onset asynchrony, seconds.
    soa: float = 0.175
    #: How long a flash stays lit, seconds.
    flash_duration: float = 0.1
    #: Pause between selections, seconds: from a decision to the next selection's first flash
    #: (calibration: how long each character is cued before its flashes). It is the chosen
    #: symbol's feedback (``feedback_time``), then the next selection's cue (the rest). 1.0 s
    #: (2.0 before): see the README, *Pause between selections*.
    inter_trial: float = 1.0
    #: The first part of ``inter_trial`` after a decision, seconds: the chosen symbol is shown
    #: (the typed text); the rest of the pause (``inter_trial - feedback_time``) cues the next
    #: selection (copy spelling: the phrase's next symbol on the grid). At most ``inter_trial``
    #: (a longer value counts as ``inter_trial``: no cue).
    feedback_time: float = 0.5
    #: Repetitions (each flashes every group once) before a forced decision.
    max_repetitions: int = 10
    min_repetitions: int = 1
    #: Which symbols flash together: ``"row-column"``, ``"checkerboard"`` (Townsend et al.
    #: 2010) or ``"adaptive"`` (each group chosen from the posterior); see
    #: :mod:`neurospell.session.flashgroups`.
    flash_strategy: str = "row-column"
    #: Flashes before the stopping rule may fire (``None``: ``min_repetitions`` rows and
    #: columns' worth; 2 with checkerboard or adaptive groups) and before a forced decision
    #: (``None``: ``max_repetitions``' worth).
    min_flashes: int | None = None
    max_flashes: int | None = None
    #: Posterior maximum that stops flashing early (dynamic stopping); ``1.0`` disables it.
    stop_threshold: float = 0.95
    #: Check the stopping threshold after every flash once ``min_repetitions`` repetitions'
    #: worth of flashes are in (``true``), or only at the end of each repetition (``false``).
    stop_each_flash: bool = True
    #: An early stop needs the EEG evidence alone to rank the chosen symbol first
    #: (:func:`~neurospell.lm_fusion.eeg_agrees`): the prior hastens, never decides alone.
    #: Sessions recorded before this key existed ran without it (their replays read ``false``).
    eeg_must_agree: bool = True
    #: Live sessions: repetitions flashed per calibration character.
    calibration_repetitions: int = 5
    #: Live sessions: seconds without samples after which the session pauses (resumes
    #: when samples flow again).
    pause_after: float = 1.0
    #: Live sessions: stop after this many selections (0: no limit).
    max_selections: int = 0
    #: Live sessions: stop after this many minutes (0: no limit).
    max_minutes: float = 0.0
    #: Live copy spelling: stop after this many wrong selections in a row (0: no limit).
    max_consecutive_errors: int = 0
    #: Live sessions: online adaptation (self-labelled selections, refits between selections;
    #: :mod:`neurospell.session.live.adaptation`).
    adapt: bool = False
    #: Refit once this many selections are kept, then each time ``adapt_every`` more are.
    adapt_min_selections: int = 5
    adapt_every: int = 3
    #: Use a refit only when its cross-validated AUC on the labelled epochs is at least the AUC
    #: their live scores had (``false``: every refit is used).
    adapt_require_better: bool = True
    #: Word-prediction cells (the LM's current word completions, selectable like any symbol):
    #: ``None`` (unset) is the grid of ``symbols`` alone, except in the live spelling commands
    #: (``spell``, ``gui``: :meth:`live`, ``DEFAULT_WORD_CELLS``); ``N`` adds N cells after
    #: ``symbols`` (the classic default ``symbols`` then become the word grid's letters, space,
    #: backspace and punctuation: :func:`~neurospell.types.word_grid_symbols`).
    word_cells: int | None = None

    def __post_init__(self):
        if self.word_cells is not None:
            if not 0 <= self.word_cells <= len(WORD_CELL_SYMBOLS):
                raise NeurospellError(f"Config [speller] word_cells must be in [0, {len(WORD_CELL_SYMBOLS)}], "
                                      f"got {self.word_cells!r}.")
        if self.word_cells:
            if self.symbols == "".join(DEFAULT_SYMBOLS):
                object.__setattr__(self, "symbols", word_grid_symbols(self.n_rows * self.n_cols - self.word_cells))
            elif len(self.symbols) + self.word_cells != self.n_rows * self.n_cols:
                raise NeurospellError(
                    f"Config [speller] symbols has {len(self.symbols)} characters and word_cells is "
                    f"{self.word_cells}, but the grid is {self.n_rows}x{self.n_cols} = {self.n_rows * self.n_cols}.")
        elif len(self.symbols) != self.n_rows * self.n_cols:
            raise NeurospellError(
                f"Config [speller] symbols has {len(self.symbols)} characters, but the grid is "
                f"{self.n_rows}x{self.n_cols} = {self.n_rows * self.n_cols}."
            )
        for name in ("soa", "flash_duration", "max_repetitions", "min_repetitions", "calibration_repetitions",
                     "pause_after", "adapt_min_selections", "adapt_every"):
            _positive("speller", name, getattr(self, name))
        _positive("speller", "inter_trial", self.inter_trial, allow_zero=True)
        _positive("speller", "feedback_time", self.feedback_time, allow_zero=True)
        for name in ("max_selections", "max_minutes", "max_consecutive_errors"):
            _positive("speller", name, getattr(self, name), allow_zero=True)
        if self.min_repetitions > self.max_repetitions:
            raise NeurospellError(
                f"Config [speller] min_repetitions ({self.min_repetitions}) exceeds max_repetitions ({self.max_repetitions})."
            )
        check_option("[speller] flash_strategy", self.flash_strategy, ("row-column", "checkerboard", "adaptive"))
        _positive("speller", "min_flashes", self.min_flashes, allow_zero=True, allow_none=True)
        _positive("speller", "max_flashes", self.max_flashes, allow_none=True)
        hi = self.max_repetitions * (self.n_rows + self.n_cols) if self.max_flashes is None else self.max_flashes
        if self.min_flashes is not None and self.min_flashes > hi:
            raise NeurospellError(
                f"Config [speller] min_flashes ({self.min_flashes}) exceeds the flashes before a forced "
                f"decision ({hi}: max_flashes, else max_repetitions x {self.n_rows + self.n_cols} groups); "
                "lower min_flashes or raise max_flashes.")
        if not 0.0 < self.stop_threshold <= 1.0:
            raise NeurospellError(f"Config [speller] stop_threshold must be in (0, 1], got {self.stop_threshold}.")

    @property
    def cue_time(self) -> float:
        """Seconds of the pause after a decision that cue the next selection (``inter_trial``
        less the feedback, at least 0)."""
        return max(0.0, self.inter_trial - self.feedback_time)

    def layout(self):
        """The :class:`~neurospell.types.SpellerLayout` of this grid (row/column flashes); the
        word cells (if any) take the last ``word_cells`` positions."""
        cells = WORD_CELL_SYMBOLS[:self.word_cells or 0]
        return SpellerLayout.row_column(tuple(self.symbols) + cells, self.n_rows, self.n_cols)

    def live(self):
        """This section as the live spelling commands use it: with unset ``word_cells`` and the
        classic default grid, the word grid with ``DEFAULT_WORD_CELLS`` cells; else unchanged."""
        if self.word_cells is not None or self.symbols != "".join(DEFAULT_SYMBOLS) or (self.n_rows, self.n_cols) != (6, 6):
            return self
        return replace(self, word_cells=DEFAULT_WORD_CELLS)
