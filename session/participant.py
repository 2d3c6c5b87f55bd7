"""A simulated participant: a process that answers a speller's flashes with EEG, over LSL.

It reads the session's marker stream (:mod:`neurospell.markers` strings) and publishes an
EEG stream in which every flash is answered as a person intending a phrase would answer it:
a P300 when the flash lights the symbol the person wants next, none otherwise, locked to
the marker's LSL timestamp (the flash onset the display reported), not to its arrival time.

Three signal generators share one interface (``synthesize(start, n, flashes)``, a pure
function of the seed, the sample indices and the flash schedule):

- :class:`ParametricGenerator` (default, needs no files): a P300 template (amplitude,
  latency, latency jitter, hit probability) at central/parietal channels and a small
  visual evoked potential at occipital channels for every flash, over background EEG
  (1/f noise, alpha, occasional blinks on frontal channels, sensor noise).
- :class:`RealEpochGenerator` (``--data REC``): real single-trial epochs of a recording,
  one per flash (the recording played from a real flash of the same kind and the same
  recent target history), over its real background; calibration flashes from the
  characters ``neurospell simulate`` calibrates on, spelling flashes from the others.
- :class:`RecordingGenerator` (``--data REC --mode average``): the recording's average
  target and non-target responses (held-out characters) over its real background: no
  single-trial variability beyond ``--jitter-ms`` / ``--hit-prob``.

:class:`Intention` is the person: it knows the phrase, follows the typed text from the
decision markers (``select:S``, ``text:T``) and, when the typed text is no longer a prefix
of the phrase, wants backspace (``<``). :class:`SimulatedParticipant` runs the real-time
loop: its own sample clock, samples published ``lookahead`` seconds after their timestamp
so that a marker arriving up to that late still gets its whole response.
"""

from __future__ import annotations

import math
import signal
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import butter, fftconvolve, sosfiltfilt

from neurospell.acquisition import LslEegOutlet
from neurospell.check import NeurospellError, check_positive, check_range, validate_type
from neurospell.logs import logger
from neurospell.lsl import get_pylsl
from neurospell.markers import BACKSPACE, apply_selection, parse_flash, parse_select, parse_text
from neurospell.preprocessing import load_recording
from neurospell.preprocessing.offline import flash_table
from neurospell.types import SpellerLayout

from .markerlink import MarkerStreamFinder

__all__ = [
    "ScheduledFlash", "ParametricGenerator", "RecordingGenerator", "RealEpochGenerator", "Intention",
    "SimulatedParticipant", "channel_names", "intended_symbol", "PhotodiodeGenerator",
]

#: Channel names used for ``n_channels`` channels (the first ``n``; then ``EEG<i>``).
CHANNEL_ORDER = (
    "Pz", "Cz", "Fz", "P3", "P4", "PO7", "PO8", "Oz", "Fp1", "Fp2", "F3", "F4", "C3", "C4",
    "CPz", "POz", "O1", "O2", "F7", "F8", "T7", "T8", "P7", "P8", "FC1", "FC2", "CP1", "CP2",
    "FC5", "FC6", "CP5", "CP6",
)

# Relative weights of each component by scalp region (P300 is 1.0 at Pz).
_P300_W = {"p": 1.0, "cp": 0.9, "po": 0.75, "c": 0.7, "o": 0.5, "fc": 0.45, "f": 0.3, "t": 0.3, "fp": 0.15, "other": 0.3}
_VEP_W = {"o": 1.0, "po": 0.9, "p": 0.5, "cp": 0.25, "c": 0.15, "t": 0.1, "fc": 0.05, "f": 0.05, "fp": 0.05, "other": 0.05}
_BLINK_W = {"fp": 1.0, "f": 0.5, "fc": 0.3, "c": 0.12, "t": 0.1, "cp": 0.06, "p": 0.03, "po": 0.02, "o": 0.01, "other": 0.05}
_ALPHA_W = {"o": 1.0, "po": 1.0, "p": 0.8, "cp": 0.6, "c": 0.4, "t": 0.3, "fc": 0.3, "f": 0.2, "fp": 0.1, "other": 0.3}

# Seed-sequence stream ids (one per random component, so components never share draws).
_S_PINK, _S_ALPHA, _S_SENSOR, _S_BLINK, _S_FLASH, _S_BG = 1, 2, 3, 4, 5, 6


def channel_names(n_channels: int) -> tuple[str, ...]:
    """The names of ``n_channels`` simulated channels (10-20 names, Pz first, then ``EEG<i>``)."""
    n = int(n_channels)
    names = list(CHANNEL_ORDER[:n])
    names += [f"EEG{i + 1}" for i in range(len(names), n)]
    return tuple(names)


def _region(name: str) -> str:
    n = name.upper()
    for prefix, region in (("FP", "fp"), ("AF", "fp"), ("FC", "fc"), ("F", "f"), ("CP", "cp"), ("C", "c"),
                           ("T", "t"), ("PO", "po"), ("P", "p"), ("O", "o")):
        if n.startswith(prefix):
            return region
    return "other"


def _weights(names, table, lateral=1.0) -> np.ndarray:
    w = np.array([table[_region(n)] for n in names], dtype=np.float64)
    if lateral != 1.0:
        w *= np.array([1.0 if n.lower().endswith("z") else lateral for n in names])
    return w


def _float_key(x: float) -> int:
    """An exact non-negative integer for a float (its IEEE-754 bits), for seeding."""
    return int(np.asarray(float(x), dtype=np.float64).view(np.uint64))


@dataclass(frozen=True, order=True)
class ScheduledFlash:
    """One flash as the participant sees it.

    Parameters
    ----------
    onset : float
        Flash onset in samples since the stream's first sample (fractional: the marker's
        LSL time minus the time of sample 0, times the sampling rate).
    code : int
        Stimulus code (flash group index + 1; 0: unknown group).
    target : bool
        Whether the flash lit the symbol the participant wanted.
    labelled : bool
        Whether its marker said target / non-target (a calibration flash). Only
        :class:`RealEpochGenerator` uses it (calibration flashes are answered from the
        recording's calibration characters); not part of the flash's random draws.
    """

    onset: float
    code: int = 0
    target: bool = False
    labelled: bool = False

    def rng(self, seed: int) -> np.random.Generator:
        """This flash's own random draws: a pure function of the seed and the flash."""
        return np.random.default_rng([int(seed), _S_FLASH, _float_key(self.onset), int(self.code), int(self.target)])


class _Generator:
    """Shared parts: channels, the response window, chunked synthesis from per-flash responses."""

    sfreq: float
    ch_names: tuple[str, ...]
    seed: int

    def response_span(self) -> tuple[int, int]:
        """Samples after a flash onset where its response may be non-zero: ``[first, last)``."""
        raise NotImplementedError

    def background(self, start: int, n: int) -> np.ndarray:
        raise NotImplementedError

    def response(self, flash: ScheduledFlash, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def synthesize(self, start: int, n: int, flashes=()) -> np.ndarray:
        """The EEG of samples ``start .. start + n - 1``, in volts.

        A pure function of the generator's parameters (seed included), the sample indices
        and the flash schedule: the same samples come out whatever the chunking, and a
        flash contributes exactly zero outside its response window.

        Parameters
        ----------
        start : int
            Index of the first sample (since the stream start, >= 0).
        n : int
            Number of samples.
        flashes : iterable of ScheduledFlash
            The flash schedule (flashes whose response misses this span are ignored).

        Returns
        -------
        data : ndarray, shape (n_channels, n), float64, volts
        """
        start, n = int(start), int(n)
        if start < 0 or n < 0:
            raise NeurospellError(f"start and n must be >= 0, got start={start}, n={n}.")
        out = self.background(start, n)
        first, last = self.response_span()
        stop = start + n
        for fl in sorted(flashes):
            lo = max(start, math.ceil(fl.onset + first))
            hi = min(stop, math.ceil(fl.onset + last))
            if hi <= lo:
                continue
            idx = np.arange(lo, hi)
            out[:, lo - start:hi - start] += self.response(fl, idx)
        return out


#: Default P300 amplitude at Pz, µV: with the default live calibration ("THE QUICK FOX", 5
#: repetitions) and decoder, held-out AUC 0.89 (0.88-0.90 over 5 seeds), the middle of the real
#: g.tec participants' 0.85-0.95 on a calibration of that size (``benchmarks/participant_auc.py``).
DEFAULT_AMPLITUDE = 18.0
#: A weak participant's amplitude (AUC 0.68 under the same calibration; 5 µV, the earlier default: 0.57, near chance).
WEAK_AMPLITUDE = 8.0


class ParametricGenerator(_Generator):
    """Parametric EEG: P300 and visual responses over 1/f noise, alpha, blinks and sensor noise.

    Parameters
    ----------
    n_channels : int
        Number of channels (1-256); names from :func:`channel_names` (Pz first).
    sfreq : float
        Sampling rate in Hz (32-10000).
    amplitude : float
        P300 peak at Pz in µV (>= 0; other channels scaled by scalp region). Default
        :data:`DEFAULT_AMPLITUDE` (a typical participant); :data:`WEAK_AMPLITUDE`: a weak one.
    latency_ms : float
        P300 peak latency after the flash onset, ms.
    jitter_ms : float
        Standard deviation of the single-trial P300 latency, ms.
    hit_prob : float
        Probability that a target flash evokes a P300 (a missed one looks like a non-target).
    delay_ms : float
        Extra delay of every response (e.g. a display or amplifier latency), ms.
    width_ms : float
        Standard deviation of the Gaussian P300 wave, ms.
    vep_uv : float
        Amplitude of the visual evoked N1/P2 that every flash evokes at occipital channels, µV.
    background_uv : float
        RMS of the 1/f background at each channel, µV (alpha at 0.6 and sensor noise at
        0.1 of it; 0 gives a silent background, blinks aside).
    blink_rate : float
        Blinks per minute (about 100 µV at Fp1/Fp2, 50 µV at frontal channels).
    seed : int
        Seed of every random draw.
    """

    def __init__(self, n_channels=8, sfreq=250.0, *, amplitude=DEFAULT_AMPLITUDE, latency_ms=300.0, jitter_ms=30.0,
                 hit_prob=0.95, delay_ms=0.0, width_ms=60.0, vep_uv=1.5, background_uv=10.0,
                 blink_rate=12.0, seed=0):
        validate_type(n_channels, "int", "n_channels")
        validate_type(seed, "int", "seed")
        self.n_channels = int(check_range("n_channels", n_channels, 1, 256))
        self.sfreq = float(check_range("sfreq", sfreq, 32.0, 10000.0))
        self.amplitude = float(check_range("amplitude", amplitude, 0.0, 1000.0))
        self.latency_ms = float(check_range("latency_ms", latency_ms, 0.0, 1000.0))
        self.jitter_ms = float(check_range("jitter_ms", jitter_ms, 0.0, 300.0))
        self.hit_prob = float(check_range("hit_prob", hit_prob, 0.0, 1.0))
        self.delay_ms = float(check_range("delay_ms", delay_ms, 0.0, 1000.0))
        self.width_ms = float(check_range("width_ms", width_ms, 5.0, 300.0))
        self.vep_uv = float(check_range("vep_uv", vep_uv, 0.0, 1000.0))
        self.background_uv = float(check_range("background_uv", background_uv, 0.0, 1000.0))
        self.blink_rate = float(check_range("blink_rate", blink_rate, 0.0, 120.0))
        self.seed = int(check_range("seed", seed, 0, 2**63 - 1))
        self.ch_names = channel_names(self.n_channels)
        names = self.ch_names
        self._w_p300 = _weights(names, _P300_W, lateral=0.85)
        self._w_vep = _weights(names, _VEP_W)
        self._w_blink = _weights(names, _BLINK_W, lateral=1.0)
        self._w_alpha = _weights(names, _ALPHA_W)
        # background blocks: B samples, FIR kernels of length B (causal, pure per block)
        self._block = 1 << int(math.ceil(math.log2(2.0 * self.sfreq)))
        self._h_pink, self._h_alpha = self._kernels()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._blink_len = int(round(0.4 * self.sfreq))

    def __repr__(self):
        return (f"ParametricGenerator({self.n_channels} ch @ {self.sfreq:g} Hz, P300 {self.amplitude:g} µV "
                f"at {self.latency_ms:g} ms ± {self.jitter_ms:g}, hit {self.hit_prob:g}, seed {self.seed})")

    # ------------------------------------------------------------ background
    def _kernels(self):
        b, sf = self._block, self.sfreq
        freqs = np.fft.rfftfreq(b, 1.0 / sf)
        mag = 1.0 / np.sqrt(np.maximum(freqs, 0.5))  # power ~ 1/f above 0.5 Hz
        mag[0] = 0.0
        mag[freqs > 0.45 * sf] = 0.0
        h = np.fft.irfft(mag, b)
        h = np.roll(h, b // 2) * np.hanning(b)  # linear-phase, windowed
        h_pink = h / np.sqrt(np.sum(h**2))  # unit RMS output from unit white noise
        t = (np.arange(b) - b // 2) / sf
        sigma_t = 1.0 / (2 * np.pi * 1.0)  # 1 Hz bandwidth around 10 Hz
        h = np.exp(-0.5 * (t / sigma_t) ** 2) * np.cos(2 * np.pi * 10.0 * t)
        h_alpha = h / np.sqrt(np.sum(h**2))
        return h_pink, h_alpha

    def _white(self, stream: int, block: int, rows: int) -> np.ndarray:
        # block >= -1: shifted by one so the seed words stay non-negative
        rng = np.random.default_rng([self.seed, stream, block + 1])
        return rng.standard_normal((rows, self._block))

    def _bg_block(self, k: int) -> np.ndarray:
        blk = self._cache.get(k)
        if blk is not None:
            self._cache.move_to_end(k)
            return blk
        n_ch, b = self.n_channels, self._block
        scale = self.background_uv * 1e-6
        blk = np.zeros((n_ch, b))
        if scale > 0:
            # n_ch independent pink sources + one common one (volume conduction), one alpha source
            w = np.concatenate([self._white(_S_PINK, k - 1, n_ch + 1), self._white(_S_PINK, k, n_ch + 1)], axis=1)
            pink = fftconvolve(w, self._h_pink[None, :], mode="valid", axes=1)[:, 1:]
            wa = np.concatenate([self._white(_S_ALPHA, k - 1, 1), self._white(_S_ALPHA, k, 1)], axis=1)
            alpha = fftconvolve(wa, self._h_alpha[None, :], mode="valid", axes=1)[:, 1:]
            sensor = self._white(_S_SENSOR, k, n_ch)
            blk = scale * (0.8 * pink[:n_ch] + 0.6 * pink[n_ch:] + 0.6 * self._w_alpha[:, None] * alpha
                           + 0.1 * sensor)
        self._cache[k] = blk
        if len(self._cache) > 8:
            self._cache.popitem(last=False)
        return blk

    def _blinks(self, k: int) -> list[tuple[float, float]]:
        """Blinks starting in background block ``k``: (onset sample, amplitude in volts)."""
        if self.blink_rate <= 0:
            return []
        rng = np.random.default_rng([self.seed, _S_BLINK, k + 1])
        count = rng.poisson(self.blink_rate / 60.0 * self._block / self.sfreq)
        onsets = k * self._block + rng.uniform(0, self._block, count)
        amps = rng.uniform(80e-6, 150e-6, count)
        return sorted(zip(onsets.tolist(), amps.tolist(), strict=True))

    def background(self, start: int, n: int) -> np.ndarray:
        b = self._block
        out = np.empty((self.n_channels, n))
        if n == 0:
            return out
        stop = start + n
        for k in range(start // b, (stop - 1) // b + 1):
            lo, hi = max(start, k * b), min(stop, (k + 1) * b)
            out[:, lo - start:hi - start] = self._bg_block(k)[:, lo - k * b:hi - k * b]
        # blinks (started up to one blink length before the span)
        for k in range(max(0, (start - self._blink_len) // b), (stop - 1) // b + 1):
            for onset, amp in self._blinks(k):
                lo, hi = max(start, math.ceil(onset)), min(stop, math.ceil(onset + self._blink_len))
                if hi <= lo:
                    continue
                x = (np.arange(lo, hi) - onset) / self._blink_len  # 0..1
                wave = amp * np.sin(np.pi * x) ** 2 * (1.0 - 0.3 * x)
                out[:, lo - start:hi - start] += self._w_blink[:, None] * wave[None, :]
        return out

    # ------------------------------------------------------------ responses
    def response_span(self) -> tuple[int, int]:
        d = self.delay_ms / 1000.0
        end = max(0.5, (self.latency_ms + 5 * self.width_ms + 4 * self.jitter_ms) / 1000.0)
        return 0, int(math.ceil((d + end) * self.sfreq)) + 1

    def response(self, flash: ScheduledFlash, idx: np.ndarray) -> np.ndarray:
        """The response of one flash at samples ``idx`` (inside its span), volts, (n_channels, len(idx))."""
        rng = flash.rng(self.seed)
        jitter = float(np.clip(rng.standard_normal(), -4.0, 4.0)) * self.jitter_ms / 1000.0  # inside the span
        hit = bool(rng.random() < self.hit_prob)
        t = (idx - flash.onset) / self.sfreq - self.delay_ms / 1000.0  # seconds after the response onset
        out = np.zeros((self.n_channels, idx.size))
        if self.vep_uv > 0:
            vep = -np.exp(-0.5 * ((t - 0.17) / 0.025) ** 2) + 0.8 * np.exp(-0.5 * ((t - 0.24) / 0.03) ** 2)
            vep[t < 0] = 0.0
            out += (self.vep_uv * 1e-6) * self._w_vep[:, None] * vep[None, :]
        if flash.target and hit and self.amplitude > 0:
            mu = self.latency_ms / 1000.0 + jitter
            p3 = np.exp(-0.5 * ((t - mu) / (self.width_ms / 1000.0)) ** 2)
            p3[t < 0] = 0.0
            out += (self.amplitude * 1e-6) * self._w_p300[:, None] * p3[None, :]
        return out


class RecordingGenerator(_Generator):
    """Real evoked responses of a recording over its real background.

    The recording's flashes overlap (e.g. 175 ms apart for 800 ms epochs), so every real
    epoch holds its own background and the tails of its neighbours' responses: adding
    whole single epochs flash after flash would pile up about ``epoch / SOA`` backgrounds
    (the EEG would be 2-3 times too large and its target epochs no longer like the
    recording's). This generator therefore takes the two parts from the held-out
    characters of the recording separately:

    - the **responses**: the target and the non-target average epoch (0 to ``epoch``
      seconds, each channel, 100 ms pre-flash baseline, 0.3 Hz zero-phase high-pass for
      the estimate only, faded in over 20 ms and out over the last 100 ms). They are plain
      averages: a least-squares deconvolution of the overlapping responses is
      ill-conditioned at the recording's near-constant flash interval (measured on the
      g.tec files: 10 µV artefacts), so the averages keep the recording's mean overlap of
      neighbouring flashes, which the simulated flashes then add again (the flash-locked
      ripple of the non-target response is about doubled; the target/non-target
      difference is the recording's);
    - the **background**: the stretches of the recording with no flash response (from
      ``epoch`` seconds after a flash to the next flash, at least 1 s long: the pauses
      between characters), each made zero-mean, joined with 0.2 s equal-power cross-fades
      and looped from a seeded offset; the raw continuous signal when those stretches add
      up to less than 5 s.

    Single-trial variability comes from ``jitter_ms`` and ``hit_prob`` and from the real
    background. Only characters from ``exclude_first_chars`` on are used (the first ones
    are those a decoder is calibrated on: characters 1-3 in the project's g.tec benchmark).

    Parameters
    ----------
    raw : mne.io.Raw
        A recording with ``flash/<c>/target|nontarget`` annotations (e.g. from
        :func:`~neurospell.preprocessing.load_recording` on a g.tec ``.mat`` file).
    exclude_first_chars : int
        Characters (trials) at the start left out (>= 0).
    jitter_ms, hit_prob, delay_ms, seed
        As for :class:`ParametricGenerator` (a missed target gives the non-target response).
    epoch : float
        Length of the responses, seconds.

    Attributes
    ----------
    responses_ : ndarray, shape (2, n_channels, n_times)
        Non-target (0) and target (1) responses, volts, from the flash onset.
    n_flashes_used_, n_chars_used_ : int
    """

    def __init__(self, raw, *, exclude_first_chars=3, jitter_ms=0.0, hit_prob=1.0, delay_ms=0.0, seed=0,
                 epoch=0.8):
        validate_type(exclude_first_chars, "int", "exclude_first_chars")
        validate_type(seed, "int", "seed")
        self.jitter_ms = float(check_range("jitter_ms", jitter_ms, 0.0, 300.0))
        self.hit_prob = float(check_range("hit_prob", hit_prob, 0.0, 1.0))
        self.delay_ms = float(check_range("delay_ms", delay_ms, 0.0, 1000.0))
        self.seed = int(check_range("seed", seed, 0, 2**63 - 1))
        self.epoch = check_positive("epoch", epoch)
        self.exclude_first_chars = int(check_range("exclude_first_chars", exclude_first_chars, 0, None))
        picks = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
        if not picks:
            raise NeurospellError("The recording has no EEG channel.")
        self.sfreq = float(raw.info["sfreq"])
        self.ch_names = tuple(raw.ch_names[i] for i in picks)
        x = raw.get_data(picks=picks)  # volts
        onsets, _codes, targets, trials, _desc = flash_table(raw)
        if targets is None or onsets.size == 0:
            raise NeurospellError(
                "The recording's flashes do not say which were targets (flash/<c>/target|nontarget "
                "annotations are needed), so its target and non-target responses cannot be told apart."
            )
        chars = np.unique(trials)
        if self.exclude_first_chars >= chars.size:
            raise NeurospellError(
                f"exclude_first_chars={self.exclude_first_chars} leaves no character: the recording has "
                f"{chars.size}. Use a smaller value."
            )
        keep_chars = chars[self.exclude_first_chars:]
        keep = np.isin(trials, keep_chars)
        sf = self.sfreq
        samples = np.round(onsets * sf).astype(np.int64)
        n_ep = int(round(self.epoch * sf))
        self._n_ep = n_ep
        # the held-out span: from the baseline of the first kept flash to the end of the last epoch
        lo = max(0, int(samples[keep].min()) - int(round(0.1 * sf)))
        hi = min(x.shape[1], int(samples[keep].max()) + n_ep)
        self.responses_ = self._average_responses(x[:, lo:hi], samples[keep] - lo, targets[keep], n_ep)
        self._bg = self._background_signal(x, samples, n_ep)
        self.n_flashes_used_ = int(keep.sum())
        self.n_chars_used_ = int(keep_chars.size)
        self._offset = int(np.random.default_rng([self.seed, _S_BG]).integers(0, self._bg.shape[1]))
        logger.info("RecordingGenerator: responses from %d flashes of %d characters; %.1f s of background",
                    self.n_flashes_used_, self.n_chars_used_, self._bg.shape[1] / sf)

    def __repr__(self):
        return (f"RecordingGenerator({len(self.ch_names)} ch @ {self.sfreq:g} Hz, characters from "
                f"{self.exclude_first_chars + 1}, seed {self.seed})")

    def _average_responses(self, x, onsets, targets, n_ep) -> np.ndarray:
        """Target/non-target average epochs, shape (2, n_channels, n_ep) (0: non-target), volts."""
        n_base = int(round(0.1 * self.sfreq))
        sos = butter(2, 0.3, "highpass", fs=self.sfreq, output="sos")
        xf = sosfiltfilt(sos, x, axis=1)
        ok = (onsets >= n_base) & (onsets + n_ep <= xf.shape[1])
        out = np.zeros((2, x.shape[0], n_ep))
        for cls in (0, 1):
            sel = onsets[ok & (targets == bool(cls))]
            if sel.size == 0:
                raise NeurospellError(
                    f"The held-out characters of the recording have no {'target' if cls else 'non-target'} "
                    "flash; use a smaller exclude_first_chars (--exclude-first-chars)."
                )
            ep = np.stack([xf[:, p - n_base:p + n_ep] for p in sel])
            ep = ep - ep[:, :, :n_base].mean(axis=2, keepdims=True)
            out[cls] = ep.mean(axis=0)[:, n_base:]
        fade_in = min(n_ep, max(1, int(round(0.02 * self.sfreq))))
        fade_out = min(n_ep, max(1, int(round(0.1 * self.sfreq))))
        taper = np.ones(n_ep)
        taper[:fade_in] = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade_in) / fade_in)
        taper[n_ep - fade_out:] = 0.5 + 0.5 * np.cos(np.pi * (np.arange(fade_out) + 1) / fade_out)
        return out * taper

    def _background_signal(self, x, samples, n_ep) -> np.ndarray:
        sf = self.sfreq
        edges = []  # flash-free stretches [a, b)
        s_sorted = np.sort(samples)
        starts = np.r_[0, s_sorted + n_ep]
        ends = np.r_[s_sorted, x.shape[1]]
        min_len = int(round(1.0 * sf))
        for a, b in zip(starts, ends, strict=True):
            if b - a >= min_len:
                edges.append((int(a), int(b)))
        total = sum(b - a for a, b in edges)
        if total < 5 * sf:
            logger.warning("The recording has only %.1f s without flash responses; using its raw continuous "
                           "signal as the background.", total / sf)
            return x
        fade = int(round(0.2 * sf))
        pieces = [x[:, a:b] - x[:, a:b].mean(axis=1, keepdims=True) for a, b in edges]
        out = pieces[0]
        ramp = np.linspace(0.0, 1.0, fade)[None, :]
        for p in pieces[1:]:
            f = min(fade, out.shape[1] // 2, p.shape[1] // 2)
            r = ramp if f == fade else np.linspace(0.0, 1.0, f)[None, :]
            mixed = out[:, -f:] * np.sqrt(1 - r) + p[:, :f] * np.sqrt(r)
            out = np.concatenate([out[:, :-f], mixed, p[:, f:]], axis=1)
        return out

    def background(self, start: int, n: int) -> np.ndarray:
        length = self._bg.shape[1]
        idx = (np.arange(start, start + n) + self._offset) % length
        return self._bg[:, idx].copy()

    def response_span(self) -> tuple[int, int]:
        d = int(math.ceil((self.delay_ms + 4 * self.jitter_ms) / 1000.0 * self.sfreq))
        return 0, self._n_ep + d + 1

    def response(self, flash: ScheduledFlash, idx: np.ndarray) -> np.ndarray:
        rng = flash.rng(self.seed)
        jitter = float(np.clip(rng.standard_normal(), -4.0, 4.0)) * self.jitter_ms / 1000.0  # inside the span
        hit = bool(rng.random() < self.hit_prob)
        resp = self.responses_[1 if (flash.target and hit) else 0]
        # sample position inside the response, linearly interpolated (sub-sample onsets)
        pos = idx - flash.onset - (self.delay_ms / 1000.0 + max(jitter, -self.delay_ms / 1000.0)) * self.sfreq
        out = np.zeros((resp.shape[0], idx.size))
        ok = (pos >= 0) & (pos <= self._n_ep - 1)
        if np.any(ok):
            p = pos[ok]
            i0 = np.floor(p).astype(np.int64)
            i1 = np.minimum(i0 + 1, self._n_ep - 1)
            frac = p - i0
            out[:, ok] = resp[:, i0] * (1 - frac) + resp[:, i1] * frac
        return out


class RealEpochGenerator(RecordingGenerator):
    """Real single-trial epochs of a recording, one per flash, over its real background.

    Every simulated flash is answered with the recording itself: from the flash's onset
    the stream plays the recording from the onset of a real flash of the same kind (a
    target flash when the simulated one lit the wanted symbol, a non-target flash
    otherwise), until the next flash switches it, or for ``epoch`` seconds after the last
    flash; then the recording's flash-free background (:class:`RecordingGenerator`) takes
    over. Only one stretch of the recording plays at any instant: adding whole single
    epochs flash after flash would pile up about ``epoch / SOA`` backgrounds and
    neighbour responses (each real epoch already holds them).

    The responses overlap: a target's P300 (300-500 ms) falls after the next two or three
    flashes, in stretches those flashes switched to. So the real flash each switch plays
    from must have the same recent past: among the real flashes of the same kind, the
    generator takes one whose target flashes of the preceding ``epoch`` seconds lie at the
    same lags (in units of the recording's flash interval, :attr:`soa_`) as the simulated
    flash's targets (the fewest differing lags when none matches exactly). The real flash
    that continues the stretch playing (its onset within one sample of where the stretch
    has got to) is preferred: then nothing is spliced and the recording plays on as it was
    recorded; otherwise a seeded draw among the best that were played least so far (so a
    calibration plays each real epoch about once before any again, as an offline fit uses
    each once). A splice is an equal-power cross-fade
    over ``fade_ms``, starting at the onset (the evoked responses come later). The epoch
    a decoder cuts after a simulated flash is thus, over its first flash interval, the
    recording after a real flash of its kind, and after that real stretches with the same
    target history: single-trial real EEG everywhere, nothing averaged, no noise added.
    The simulated flashes should come at the recording's rate (``soa_``, 175 ms for the
    g.tec files): at another rate the lags are compared after rounding.

    Calibration and spelling draw from separate characters, as ``neurospell simulate``
    does: labelled flashes (``flash:<c>:target|nontarget``, a calibration) are answered
    from the recording's first ``exclude_first_chars`` characters, the others (spelling)
    from the remaining, held-out characters; a session calibrated on this participant
    trains its decoder on the epochs ``neurospell simulate`` calibrates on and spells on
    those it tests on. With ``exclude_first_chars=0`` every flash draws from all characters.

    A pure function of the seed, the sample indices and the flash schedule (chunking
    aside, as for the other generators): each flash's choice depends on its own seeded
    draws, on the flashes of the ``2 * epoch`` seconds before it and on how often each real
    flash was played by the flashes before it; it is made once, in onset order, and
    remembered (a bounded cache), so a stream synthesized chunk by chunk from a pruned
    schedule equals one synthesized at once from the whole schedule.

    Parameters
    ----------
    raw : mne.io.Raw
        A recording with ``flash/<c>/target|nontarget`` annotations (a g.tec ``.mat`` file
        through :func:`~neurospell.preprocessing.load_recording`).
    exclude_first_chars : int
        Characters answering calibration flashes (the rest answer spelling flashes).
    jitter_ms : float
        SD of a per-flash shift of the switch point, ms (0: the onset).
    hit_prob : float
        Probability that a target flash is answered as a target (else as a non-target).
    delay_ms : float
        Every switch comes this long after the onset (display/amplifier latency), ms.
    seed : int
    epoch : float
        Seconds a stretch plays after the last flash (the epoch length); also the span of
        the target history compared.
    fade_ms : float
        Length of the cross-fades, ms.

    Attributes
    ----------
    soa_ : float
        The recording's flash interval (median), seconds.
    pool_sizes_ : dict
        ``{"calibration": (n_target, n_nontarget), "spelling": (n_target, n_nontarget)}``.
    """

    _CACHE = 20000

    def __init__(self, raw, *, exclude_first_chars=3, jitter_ms=0.0, hit_prob=1.0, delay_ms=0.0, seed=0,
                 epoch=0.8, fade_ms=20.0):
        super().__init__(raw, exclude_first_chars=exclude_first_chars, jitter_ms=jitter_ms, hit_prob=hit_prob,
                         delay_ms=delay_ms, seed=seed, epoch=epoch)
        self.fade_ms = float(check_range("fade_ms", fade_ms, 0.0, 200.0))
        sf = self.sfreq
        picks = [i for i, t in enumerate(raw.get_channel_types()) if t == "eeg"]
        # high-passed (zero phase) so that stretches from far apart join without a step
        self._x = sosfiltfilt(butter(2, 0.3, "highpass", fs=sf, output="sos"), raw.get_data(picks=picks), axis=1)
        onsets, _codes, targets, trials, _desc = flash_table(raw)
        s = np.round(onsets * sf).astype(np.int64)
        self.soa_ = float(np.median(np.diff(onsets)))
        self._soa_n = self.soa_ * sf
        n_ep = self._n_ep
        self._fade_n = max(1, int(round(self.fade_ms / 1000.0 * sf)))
        self._hold = n_ep + self._fade_n  # samples a stretch plays after the last switch
        self._nbits = int(round((n_ep - 1) / self._soa_n)) + 1
        self._popcount = np.array([bin(i).count("1") for i in range(1 << self._nbits)], dtype=np.int64)
        masks = np.zeros(s.size, dtype=np.int64)
        for k in range(s.size):
            i = k - 1
            while i >= 0 and s[k] - s[i] < n_ep:
                if targets[i] and s[k] > s[i]:
                    masks[k] |= 1 << min(self._nbits - 1, int(round((s[k] - s[i]) / self._soa_n)))
                i -= 1
        valid = (s - self._fade_n >= 0) & (s + self._hold + self._fade_n <= self._x.shape[1])
        chars = np.unique(trials)
        cal = np.isin(trials, chars[:self.exclude_first_chars]) & valid
        held = ~np.isin(trials, chars[:self.exclude_first_chars]) & valid
        self._s, self._masks, self._targets = s, masks, np.asarray(targets, dtype=bool)
        self._pools = {True: np.flatnonzero(cal if cal.any() else held), False: np.flatnonzero(held)}
        self.pool_sizes_ = {
            name: (int(self._targets[idx].sum()), int((~self._targets[idx]).sum()))
            for name, idx in (("calibration", self._pools[True]), ("spelling", self._pools[False]))}
        for name, (n_t, n_n) in self.pool_sizes_.items():
            if not n_t or not n_n:
                raise NeurospellError(
                    f"The recording's {name} characters have {n_t} target and {n_n} non-target flashes; both "
                    "are needed. Use another exclude_first_chars (--exclude-first-chars).")
        self._chosen: OrderedDict = OrderedDict()
        self._uses = np.zeros(s.size, dtype=np.int64)  # times each real flash was played
        self._warned_soa = False
        logger.info("RealEpochGenerator: flash interval %.1f ms; %s", 1000 * self.soa_, self.pool_sizes_)

    def __repr__(self):
        return (f"RealEpochGenerator({len(self.ch_names)} ch @ {self.sfreq:g} Hz, real single-trial epochs; "
                f"calibration from characters 1-{self.exclude_first_chars}, spelling from the others; "
                f"seed {self.seed})")

    def response_span(self) -> tuple[int, int]:
        # how far back the flashes that shape a sample reach (the schedule must keep them)
        d = int(math.ceil((self.delay_ms + 4 * self.jitter_ms) / 1000.0 * self.sfreq))
        return 0, 2 * (self._hold + self._n_ep) + d + 1

    def _choose(self, fl: ScheduledFlash, earlier: list) -> tuple:
        """``(switch sample, recording shift, answered as target, recording flash)`` of a flash."""
        rng = fl.rng(self.seed)
        jitter = float(np.clip(rng.standard_normal(), -4.0, 4.0)) * self.jitter_ms / 1000.0
        eff = bool(fl.target and rng.random() < self.hit_prob)
        u = int(math.floor(fl.onset + (self.delay_ms / 1000.0 + max(jitter, -self.delay_ms / 1000.0))
                           * self.sfreq + 0.5))
        if earlier and not self._warned_soa and 0 < u - earlier[-1][0] < self._hold \
                and abs(u - earlier[-1][0] - self._soa_n) > 0.2 * self._soa_n:
            self._warned_soa = True
            logger.warning("RealEpochGenerator: flashes come %.0f ms apart, the recording's %.0f ms apart: the "
                           "target histories of its epochs are compared after rounding. Flash every %.3f s "
                           "([speller] soa) to answer with epochs recorded at the same rate.",
                           1000 * (u - earlier[-1][0]) / self.sfreq, 1000 * self.soa_, self.soa_)
        mask = 0
        for u_i, _shift, eff_i, _k in reversed(earlier):
            d = u - u_i
            if d >= self._n_ep:
                break
            if eff_i and d > 0:
                mask |= 1 << min(self._nbits - 1, int(round(d / self._soa_n)))
        pool = self._pools[bool(fl.labelled)]
        cand = pool[self._targets[pool] == eff]
        cost = self._popcount[self._masks[cand] ^ mask]
        if earlier and u - earlier[-1][0] < self._hold:
            shift = earlier[-1][1]
            near = np.flatnonzero((np.abs(self._s[cand] - (u + shift)) <= 1) & (cost == 0))
            if near.size:  # the recording goes on as it was recorded: no splice
                k = int(cand[near[0]])
                self._uses[k] += 1
                return u, shift, eff, k
        best = cand[cost == cost.min()]
        best = best[self._uses[best] == self._uses[best].min()]  # the real flashes used least so far
        # drawn from the onset's sample, not its exact time: a marker read through another
        # inlet (clock-sync offsets of microseconds) picks the same real flash
        pick = np.random.default_rng([self.seed, _S_FLASH, int(math.floor(fl.onset + 0.5)), int(fl.code), int(eff)])
        k = int(best[pick.integers(best.size)])
        self._uses[k] += 1
        return u, int(self._s[k]) - u, eff, k

    def _plan(self, flashes) -> list:
        plan = []
        for fl in sorted(flashes):
            got = self._chosen.get(fl)
            if got is None:
                got = self._chosen[fl] = self._choose(fl, plan)
                if len(self._chosen) > self._CACHE:
                    self._chosen.popitem(last=False)
            plan.append(got)
        return sorted(plan, key=lambda p: p[0])

    def synthesize(self, start: int, n: int, flashes=()) -> np.ndarray:
        start, n = int(start), int(n)
        if start < 0 or n < 0:
            raise NeurospellError(f"start and n must be >= 0, got start={start}, n={n}.")
        stop = start + n
        out = self.background(start, n)
        plan = self._plan(flashes)
        fade = self._fade_n
        x = self._x
        prev_end = prev_shift = None
        for i, (a, shift, _eff, _k) in enumerate(plan):
            b = a + self._hold
            if i + 1 < len(plan):
                b = min(b, plan[i + 1][0])
            if b <= a:
                continue
            before = prev_shift if prev_end == a else None  # None: the background
            prev_end, prev_shift = b, shift
            lo, hi = max(a, start), min(b, stop)
            if hi > lo:
                out[:, lo - start:hi - start] = x[:, lo + shift:hi + shift]
            if before != shift:  # a splice: cross-fade from what played before
                lo, hi = max(a, start), min(a + fade, b, stop)
                if hi > lo:
                    t = np.arange(lo, hi)
                    w = ((t - a + 0.5) / fade)[None, :]
                    old = self.background(lo, hi - lo) if before is None else x[:, lo + before:hi + before]
                    out[:, lo - start:hi - start] = np.sqrt(1 - w) * old + np.sqrt(w) * x[:, lo + shift:hi + shift]
            if i + 1 >= len(plan) or plan[i + 1][0] > b:  # the background takes over at b
                lo, hi = max(b, start), min(b + fade, stop)
                if hi > lo:
                    t = np.arange(lo, hi)
                    w = ((t - b + 0.5) / fade)[None, :]
                    out[:, lo - start:hi - start] = (np.sqrt(1 - w) * x[:, lo + shift:hi + shift]
                                                     + np.sqrt(w) * self.background(lo, hi - lo))
        return out


class PhotodiodeGenerator:
    """A generator's EEG plus a photodiode channel, as a photodiode taped on the screen gives it.

    The photodiode channel is ``high`` (else 0) from ``delay_ms`` after each flash marker's
    timestamp for ``duration_ms`` (the flash): sample ``i`` is high when its time
    ``t0 + i / sfreq`` lies in ``[marker + delay, marker + delay + duration)``. With it a
    timing check (:func:`neurospell.preprocessing.timing.photodiode_timing`) must find the
    offset ``delay_ms`` (within one sample) and no jitter beyond one sample.

    Parameters
    ----------
    generator : ParametricGenerator | RecordingGenerator
    delay_ms : float
        Delay of the light after the marker, ms (0-1000).
    duration_ms : float
        How long each flash stays lit, ms (> 0).
    channel : str
        Name of the photodiode channel (appended last; type ``"misc"``).
    high : float
        Its value while lit (volts; 0 while dark).
    """

    def __init__(self, generator, delay_ms: float, duration_ms: float, *, channel: str = "PD", high: float = 1e-4):
        self.generator = generator
        self.delay_ms = float(check_range("delay_ms", delay_ms, 0.0, 1000.0))
        self.duration_ms = check_positive("duration_ms", duration_ms)
        validate_type(channel, str, "channel")
        if channel in generator.ch_names:
            raise NeurospellError(f"channel {channel!r} is already an EEG channel of the generator; name the "
                                  "photodiode channel otherwise.")
        self.channel = channel
        self.high = float(high)
        self.sfreq = generator.sfreq
        self.seed = generator.seed
        self.ch_names = (*generator.ch_names, channel)
        self.ch_types = ("eeg",) * len(generator.ch_names) + ("misc",)

    def __repr__(self):
        return f"{self.generator!r} + photodiode {self.channel!r} {self.delay_ms:g} ms after each marker"

    def response_span(self) -> tuple[int, int]:
        first, last = self.generator.response_span()
        pd_last = int(math.ceil((self.delay_ms + self.duration_ms) / 1000.0 * self.sfreq)) + 1
        return min(first, 0), max(last, pd_last)

    def synthesize(self, start: int, n: int, flashes=()) -> np.ndarray:
        """The generator's samples with the photodiode channel appended, shape (n_channels + 1, n)."""
        flashes = list(flashes)
        eeg = self.generator.synthesize(start, n, flashes)
        pd = np.zeros((1, int(n)))
        d, w = self.delay_ms / 1000.0 * self.sfreq, self.duration_ms / 1000.0 * self.sfreq
        for fl in flashes:
            lo = max(int(start), math.ceil(fl.onset + d))
            hi = min(int(start) + int(n), math.ceil(fl.onset + d + w))
            if hi > lo:
                pd[0, lo - start:hi - start] = self.high
        return np.concatenate([eeg, pd], axis=0)


def intended_symbol(phrase: str, typed: str) -> str | None:
    """The symbol a person copying ``phrase`` wants next, given the ``typed`` text.

    The next symbol of the phrase while the typed text is a prefix of it; backspace
    (``"<"``) when it is not (a mistake to correct); ``None`` once the phrase is complete.
    """
    if typed == phrase[:len(typed)]:
        return phrase[len(typed)] if len(typed) < len(phrase) else None
    return BACKSPACE


@dataclass
class Intention:
    """What the simulated person wants: the phrase and the text typed so far.

    Parameters
    ----------
    phrase : str
        The text the person intends to type (each character a symbol of ``layout``).
    layout : SpellerLayout
        The grid: which symbols each stimulus code lights up.
    typed : str
        Text typed so far (updated from ``select:S`` / ``text:T`` markers).
    follow_labels : bool
        Answer flashes labelled ``:target`` / ``:nontarget`` (calibration cues) as labelled;
        otherwise (and for unlabelled flashes) by the intended symbol.
    """

    phrase: str
    layout: SpellerLayout
    typed: str = ""
    follow_labels: bool = True
    _warned: set = field(default_factory=set, init=False, repr=False)

    def __post_init__(self):
        validate_type(self.phrase, str, "phrase")
        validate_type(self.layout, SpellerLayout, "layout")
        missing = sorted({c for c in self.phrase if c not in self.layout.symbols})
        if missing:
            raise NeurospellError(
                f"The phrase {self.phrase!r} has symbols that are not on the speller grid: {missing}. "
                f"The grid has {''.join(self.layout.symbols)!r} (check the case, or the [speller] symbols)."
            )

    @property
    def symbol(self) -> str | None:
        """The symbol wanted now (``None``: the phrase is complete, nothing is wanted)."""
        want = intended_symbol(self.phrase, self.typed)
        if want == BACKSPACE and BACKSPACE not in self.layout.symbols:
            if "no backspace" not in self._warned:
                self._warned.add("no backspace")
                logger.warning("The typed text %r went off the phrase but the grid has no backspace %r: the "
                               "participant keeps wanting the phrase's next symbol.", self.typed, BACKSPACE)
            return self.phrase[len(self.typed)] if len(self.typed) < len(self.phrase) else None
        return want

    def on_marker(self, label: str) -> bool:
        """Update the typed text from a decision or text marker; ``True`` if it was one."""
        sym = parse_select(label)
        if sym is not None:
            self.typed = apply_selection(self.typed, sym)
            logger.info("participant: selected %r -> typed %r (wants %r)", sym, self.typed, self.symbol)
            return True
        text = parse_text(label)
        if text is not None:
            self.typed = text
            logger.info("participant: typed text is %r (wants %r)", self.typed, self.symbol)
            return True
        return False

    def is_target(self, code: int, label_target: bool | None = None) -> bool:
        """Whether a flash of stimulus ``code`` is a target for this person now."""
        if self.follow_labels and label_target is not None:
            return bool(label_target)
        want = self.symbol
        if want is None or code < 1:
            return False
        if code > self.layout.n_groups:
            if code not in self._warned:
                self._warned.add(code)
                logger.warning("Flash code %d is beyond the grid's %d flash groups; answered as a non-target.",
                               code, self.layout.n_groups)
            return False
        return self.layout.symbols.index(want) in self.layout.flash_groups[code - 1]


class SimulatedParticipant:
    """The real-time loop: read markers, publish EEG answering each flash at its timestamp.

    Sample ``i`` has the LSL timestamp ``t0 + i / sfreq``; it is published once the clock
    passes that time plus ``lookahead`` (chunks of ``1/32`` s). A flash marker with LSL time
    ``tm`` becomes a :class:`ScheduledFlash` at sample ``(tm - t0) * sfreq``: its response
    is added to samples not yet published, so a marker that arrives up to ``lookahead``
    seconds after its onset is answered in full; a later one only from the first
    unpublished sample on (counted in :attr:`n_late`, logged).

    Parameters
    ----------
    generator : ParametricGenerator | RecordingGenerator
    intention : Intention
    name : str
        Name of the EEG stream published.
    marker_stream : str | None
        Name of the marker stream read (waited for; when it disappears, the loop ends);
        ``None`` (default): the newest ``neurospell-markers*`` stream
        (:class:`~neurospell.session.markerlink.MarkerStreamFinder`, which also says when none
        appears or it sends nothing).
    lookahead : float
        Publication latency in seconds (>= 0).
    duration : float | None
        Stop after this many seconds of streaming (``None``: when the marker stream ends).
    """

    def __init__(self, generator, intention: Intention, *, name="neurospell-participant",
                 marker_stream=None, lookahead=0.15, duration=None):
        validate_type(intention, Intention, "intention")
        validate_type(name, str, "name")
        validate_type(marker_stream, (str, None), "marker_stream")
        self.generator = generator
        self.intention = intention
        self.name = name
        self.marker_stream = marker_stream
        self.lookahead = check_positive("lookahead", lookahead, strict=False)
        self.duration = check_positive("duration", duration, allow_none=True)
        self.flashes: list[ScheduledFlash] = []
        self.n_flashes = 0
        self.n_targets = 0
        self.n_late = 0
        self.n_samples = 0
        self.n_markers = 0
        #: The marker stream read (its name, once found).
        self.marker_stream_found: str | None = None
        #: LSL time of sample 0 (set when :meth:`run` starts streaming).
        self.t0: float | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the loop to end (thread-safe; also on SIGTERM when run from the main thread)."""
        self._stop.set()

    def _on_flash(self, ts: float, code: int, label_target: bool | None, t0: float, pushed: int) -> None:
        gen = self.generator
        target = self.intention.is_target(code, label_target)
        fl = ScheduledFlash((ts - t0) * gen.sfreq, code, target, label_target is not None)
        self.flashes.append(fl)
        self.n_flashes += 1
        self.n_targets += int(target)
        logger.debug("participant: flash %d at sample %.2f: %s (wants %r)", code, fl.onset,
                     "target" if target else "non-target", self.intention.symbol)
        first, last = gen.response_span()
        if math.ceil(fl.onset + first) < pushed:
            self.n_late += 1
            logger.warning("participant: the marker of flash %d arrived about %.0f ms after its onset; %d samples of "
                           "its response were already published (raise --lookahead-ms).", code,
                           (pushed / gen.sfreq + t0 + self.lookahead - ts) * 1000.0,
                           min(pushed, math.ceil(fl.onset + last)) - math.ceil(fl.onset + first))

    def run(self, *, ready=None, connected=None, warn=None) -> dict:
        """Stream until the marker stream ends, ``duration`` passes or :meth:`stop` is called.

        Parameters
        ----------
        ready : callable | None
            Called with no argument once the EEG stream is published.
        connected : callable | None
            Called with no argument once the marker stream is found and opened
            (:attr:`marker_stream_found` names it).
        warn : callable | None
            Called with a message when no marker stream appears within seconds, when several
            match, or when the one opened sends nothing (default: the log's warnings).

        Returns
        -------
        summary : dict
            ``n_samples``, ``n_flashes``, ``n_targets``, ``n_late``, ``typed``, ``marker_stream_found``.
        """
        pylsl = get_pylsl()
        gen = self.generator
        sf = gen.sfreq
        old = None
        if threading.current_thread() is threading.main_thread():
            old = signal.signal(signal.SIGTERM, lambda *_: self._stop.set())
        outlet = LslEegOutlet(self.name, gen.ch_names, getattr(gen, "ch_types", ("eeg",) * len(gen.ch_names)), sf,
                              source_id=f"neurospell-participant-{self.name}",
                              meta={"marker_stream": self.marker_stream or "*"})
        finder = MarkerStreamFinder(self.marker_stream, eeg_name=self.name, warn=warn)
        inlet = None
        found = False
        next_look = n_at_open = n_seen = t_marker = 0
        tick = 1.0 / 32.0
        t0 = self.t0 = pylsl.local_clock()
        pushed = 0
        try:
            if ready is not None:
                ready()
            while not self._stop.is_set():
                now = pylsl.local_clock()
                if self.duration is not None and now - t0 >= self.duration:
                    break
                if inlet is None:
                    info = finder.poll(now)
                    if info is not None:
                        inlet = pylsl.StreamInlet(info, max_buflen=30, recover=False,
                                                  processing_flags=pylsl.proc_clocksync)
                        try:
                            inlet.open_stream(5.0)
                        except Exception:  # noqa: BLE001 - a stream that just ended: look again
                            finder.failed(info)
                            inlet = None
                            continue
                        finder.opened(now, info)
                        n_at_open, t_marker = self.n_markers, now
                        found = True
                        self.marker_stream_found = info.name()
                        logger.info("participant: reading markers from %r", info.name())
                        if connected is not None:
                            connected()
                else:
                    finder.check_silent(now, self.n_markers - n_at_open, self.marker_stream_found)
                    if now >= next_look:  # by prefix: a session started since wins
                        next_look = now + 0.5
                        if self.n_markers > n_seen:
                            n_seen, t_marker = self.n_markers, now
                        if finder.newer(now - t_marker) is not None:
                            inlet.close_stream()
                            inlet = None
                            self.intention.typed = ""  # a new session: nothing typed yet
                            continue
                # samples due: timestamps up to now - lookahead
                due = int(math.floor((now - self.lookahead - t0) * sf)) + 1
                if due > pushed:
                    keep_from = pushed - gen.response_span()[1] - 1
                    self.flashes = [f for f in self.flashes if f.onset >= keep_from]
                    data = gen.synthesize(pushed, due - pushed, self.flashes)
                    outlet.push(data, t0 + np.arange(pushed, due) / sf)
                    pushed = due
                    self.n_samples = pushed
                # wait for a marker until the next tick (or just sleep without an inlet)
                wait = max(0.0, t0 + self.lookahead + (pushed + tick * sf) / sf - pylsl.local_clock())
                if inlet is None:
                    self._stop.wait(min(wait, 0.1))
                    continue
                try:
                    value, ts = inlet.pull_sample(timeout=wait)
                    while value is not None:
                        self.n_markers += 1
                        self._handle(value[0], ts, t0, pushed)
                        value, ts = inlet.pull_sample(timeout=0.0)
                except pylsl.util.LostError:
                    if finder.keep_looking():  # found by prefix, not this participant's session
                        inlet = None
                        self.intention.typed = ""
                        continue
                    logger.info("participant: the marker stream %r ended; stopping.", self.marker_stream_found)
                    break
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
            if inlet is not None:
                try:
                    inlet.close_stream()
                except Exception:  # pragma: no cover
                    pass
            outlet.close()
        return {"n_samples": self.n_samples, "n_flashes": self.n_flashes, "n_targets": self.n_targets,
                "n_late": self.n_late, "typed": self.intention.typed, "marker_stream_found": found}

    def _handle(self, label, ts: float, t0: float, pushed: int) -> None:
        label = str(label)
        if self.intention.on_marker(label):
            return
        info = parse_flash(label)
        if info is None:
            return
        self._on_flash(float(ts), int(info.code), info.target, t0, pushed)


def open_generator(mode: str, *, data=None, exclude_first_chars=3, **params):
    """A generator for ``mode``: ``"parametric"``, or with ``data`` (a recording path) ``"real"``
    (:class:`RealEpochGenerator`, single-trial epochs) or ``"average"`` (:class:`RecordingGenerator`,
    the recording's average responses)."""
    if mode == "parametric":
        return ParametricGenerator(**params)
    if mode in ("real", "average"):
        if data is None:
            raise NeurospellError(f"The {mode}-epoch participant needs a recording (data=...).")
        raw = load_recording(data)
        cls = RealEpochGenerator if mode == "real" else RecordingGenerator
        return cls(raw, exclude_first_chars=exclude_first_chars, **params)
    raise NeurospellError(f"mode must be 'parametric', 'real' or 'average', got {mode!r}.")

