"""The simulator: what simulation and replay put where a person sits, so they run the real loop.

Two levels, one name per concept:

- **EEG over LSL** (the live loop, end to end). A :class:`StreamingParticipant`
  (:mod:`.streaming`) reads the session's marker stream (:mod:`neurospell.markers` strings)
  and publishes an EEG stream in which every flash is answered as a person intending a
  phrase would answer it: a P300 when the flash lights the symbol the person wants next,
  none otherwise, locked to the marker's LSL timestamp (the flash onset the display
  reported), not to its arrival time. Its own sample clock; samples published
  ``lookahead`` seconds after their timestamp so that a marker arriving up to that late
  still gets its whole response. :class:`ParticipantProcess` (:mod:`.process`) runs it as
  ``neurospell simulate-participant`` in a subprocess on loopback for a live session.
- **Decoder scores** (no EEG, no clock). A :class:`ScoreSampler` (:mod:`.scores`) answers
  each flash the engine asks for with a real held-out decoder score; :func:`simulate_accuracy`
  and :func:`synthetic_erp_epochs` are built on it (``neurospell simulate``, evaluation).

The EEG generators share one interface (``synthesize(start, n, flashes)``, a pure function
of the seed, the sample indices and the flash schedule; :mod:`.synthesis`):

- :class:`ParametricGenerator` (:mod:`.parametric`; default, needs no files): a P300
  template (amplitude, latency, latency jitter, hit probability) at central/parietal
  channels and a small visual evoked potential at occipital channels for every flash, over
  background EEG (1/f noise, alpha, occasional blinks on frontal channels, sensor noise).
- :class:`RealEpochGenerator` (:mod:`.recording`; ``--data REC``): real single-trial epochs
  of a recording, one per flash (the recording played from a real flash of the same kind
  and the same recent target history), over its real background; calibration flashes from
  the characters ``neurospell simulate`` calibrates on, spelling flashes from the others.
- :class:`RecordingGenerator` (:mod:`.recording`; ``--data REC --mode average``): the
  recording's average target and non-target responses (held-out characters) over its real
  background: no single-trial variability beyond ``--jitter-ms`` / ``--hit-prob``.
- :class:`PhotodiodeGenerator` (:mod:`.photodiode`): any of them plus a photodiode channel.

:func:`open_generator` (:mod:`.generators`) picks one for a mode. :class:`Intention`
(:mod:`.intention`) is the person: it knows the phrase, follows the typed text from the
decision markers (``select:S``, ``text:T``) and, when the typed text is no longer a prefix
of the phrase, wants backspace (``<``): the rule :func:`neurospell.markers.intended_symbol`,
shared with the live session and replays.

The simulator imports no live-session code (``neurospell.session.live``); the test of the
layering checks it. The EEG names load on first use (they need SciPy's signal module and
the LSL outlet, which importing :mod:`neurospell.session` does not).
"""

import importlib

from .process import ParticipantProcess
from .scores import ScoreSampler, flash_sequence, simulate_accuracy, synthetic_erp_epochs

#: Names loaded from their module on first use (module-level ``__getattr__``, PEP 562).
_LAZY = {
    "Intention": "intention",
    "ScheduledFlash": "synthesis",
    "channel_names": "synthesis",
    "ParametricGenerator": "parametric",
    "RecordingGenerator": "recording",
    "RealEpochGenerator": "recording",
    "PhotodiodeGenerator": "photodiode",
    "StreamingParticipant": "streaming",
    "open_generator": "generators",
}

__all__ = ["ParticipantProcess", "ScoreSampler", "flash_sequence", "simulate_accuracy", "synthetic_erp_epochs",
           *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
