"""Parametric EEG (needs no files): a P300 template and a visual evoked potential over a
synthetic background (1/f noise, alpha, blinks, sensor noise)."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from scipy.signal import fftconvolve

from neurospell.check import check_range, validate_type

from .synthesis import (
    _ALPHA_W,
    _BLINK_W,
    _P300_W,
    _S_ALPHA,
    _S_BLINK,
    _S_PINK,
    _S_SENSOR,
    _VEP_W,
    ScheduledFlash,
    _Generator,
    _weights,
    channel_names,
)

__all__ = ["ParametricGenerator", "DEFAULT_AMPLITUDE", "WEAK_AMPLITUDE"]


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
