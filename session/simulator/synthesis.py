"""What every EEG generator of the simulated participant shares.

A generator answers a flash schedule with EEG: ``synthesize(start, n, flashes)`` is a pure
function of its seed, the sample indices and the schedule (:class:`ScheduledFlash`), so the
same samples come out whatever the chunking. This module holds the schedule's flash, the
channel names and scalp weights, the seed-stream ids and the synthesis from per-flash
responses over a background (:class:`_Generator`); the generators are
:class:`~neurospell.session.simulator.parametric.ParametricGenerator`,
:class:`~neurospell.session.simulator.recording.RecordingGenerator` and
:class:`~neurospell.session.simulator.recording.RealEpochGenerator`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurospell.check import NeurospellError

__all__ = ["ScheduledFlash", "channel_names"]

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
