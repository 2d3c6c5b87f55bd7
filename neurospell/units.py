"""Channel units: the one table and the one rule every neurospell path uses to reach volts.

A stream (LSL live, XDF file, any reader that gets a per-channel unit string) declares a
unit per channel, e.g. in LSL/XDF ``desc/channels/channel/unit``. :func:`unit_scale`
turns that string into the factor that brings the values to volts, the unit MNE and every
neurospell stage work in.

The rule for a channel that declares **no unit** (empty, absent or ``"none"``): its values
are taken as they are, i.e. as volts for EEG (scale ``1.0``). Why:

- It is what the MNE ecosystem does with the same stream, so the same numbers come out of
  neurospell and out of the tools users check it against: MNE-LSL's ``StreamLSL`` hands on
  the values an outlet pushed without rescaling them, and MNELAB's ``read_raw_xdf`` (the
  reader MNE users load LabRecorder files with) scales only channels declared in
  microvolts and leaves the others as they are.
- Guessing microvolts from the stream type would make the same undeclared channel differ
  by 10^6 between readers that guess and readers that do not; a declared unit is never
  guessed.
- The XDF meta-data convention asks EEG streams to declare their unit (``"microvolts"``
  preferred), and amplifier apps that follow it are read exactly.

An EEG stream that sends microvolts without saying so is then 10^6 too large; the sources
log which channels declared no unit so that a user sees it, and a decoder's amplitude
check (trained scale vs input) catches it downstream.

A non-empty unit that is not a voltage (``"degrees"``, ``"a.u."``, ...) is kept as is
(scale ``1.0``): such channels are not EEG.
"""

from __future__ import annotations

__all__ = ["UNIT_SCALE", "is_declared", "unit_scale", "unit_scales"]

#: Factor from a declared unit (lower case, stripped) to volts. Both micro signs
#: (U+00B5 MICRO SIGN and U+03BC GREEK SMALL LETTER MU) are accepted.
UNIT_SCALE: dict[str, float] = {
    "v": 1.0, "volt": 1.0, "volts": 1.0,
    "mv": 1e-3, "millivolt": 1e-3, "millivolts": 1e-3,
    "uv": 1e-6, "\u00b5v": 1e-6, "\u03bcv": 1e-6, "microvolt": 1e-6, "microvolts": 1e-6,
    "nv": 1e-9, "nanovolt": 1e-9, "nanovolts": 1e-9,
}

#: Unit strings that mean "no unit declared".
_UNDECLARED = {"", "none", "n/a", "na"}


def _norm(unit) -> str:
    return "" if unit is None else str(unit).strip().lower()


def is_declared(unit) -> bool:
    """Whether ``unit`` names a unit (``None``, ``""``, ``"none"``, ``"n/a"`` do not)."""
    return _norm(unit) not in _UNDECLARED


def unit_scale(unit) -> float:
    """The factor that brings values declared in ``unit`` to volts.

    Parameters
    ----------
    unit : str | None
        The declared unit (case and surrounding spaces ignored).

    Returns
    -------
    scale : float
        From :data:`UNIT_SCALE` for a voltage unit; ``1.0`` for no unit (values taken as
        volts, see the module docstring for why) and for any other unit.
    """
    return UNIT_SCALE.get(_norm(unit), 1.0)


def unit_scales(units) -> list[float]:
    """:func:`unit_scale` of each entry of ``units`` (one per channel)."""
    return [unit_scale(u) for u in units]
