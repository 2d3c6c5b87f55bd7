"""A generator's EEG plus a photodiode channel (for the timing check)."""

from __future__ import annotations

import math

import numpy as np

from neurospell.check import NeurospellError, check_positive, check_range, validate_type

__all__ = ["PhotodiodeGenerator"]


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
