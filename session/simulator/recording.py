"""EEG from a real recording: its average responses (:class:`RecordingGenerator`) or its
single-trial epochs (:class:`RealEpochGenerator`), over its real flash-free background."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from scipy.signal import butter, sosfiltfilt

from neurospell.check import NeurospellError, check_positive, check_range, validate_type
from neurospell.logs import logger
from neurospell.preprocessing.offline import flash_table

from .synthesis import _S_BG, _S_FLASH, ScheduledFlash, _Generator

__all__ = ["RecordingGenerator", "RealEpochGenerator"]


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
