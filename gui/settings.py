"""The window's settings in TOML: the neurospell config it edits, and its own display preferences.

Two files, both TOML:

* the **config** (``config.toml``): every section of the :class:`~neurospell.config.Config`
  the window runs with (the ``[speller]`` timing and stopping rule it lets you edit, and the
  rest unchanged), loadable by ``neurospell --config FILE`` and by the window next time;
* the **GUI preferences** (``gui.toml``, a ``[gui]`` table): theme, font and grid scale,
  single-switch mode, scan interval, switch key, speaking of words. They live apart because
  the config's sections are the pipeline's (an unknown ``[gui]`` section is refused there).

Both default to the user's config folder (``QStandardPaths.AppConfigLocation``, e.g.
``~/.config/neurospell/``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from PySide6 import QtCore, QtGui

from neurospell.check import NeurospellError, check_option, check_range
from neurospell.config import Config, write_config

from .grid import SWAP_STAMPING

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["GuiSettings", "default_settings_dir", "save_config", "load_settings", "save_settings"]


@dataclass(frozen=True)
class GuiSettings:
    """The window's display preferences (the ``[gui]`` table of ``gui.toml``).

    Attributes
    ----------
    theme : ``"auto"`` | ``"high-contrast"`` | ``"light"``
        ``"auto"`` follows the system's contrast preference (:mod:`neurospell.gui.theme`).
    font_scale : float
        Text size, times the system's (0.5-4).
    grid_scale : float
        Symbol size in the speller cells (0.5-2; 1: half a cell).
    single_switch : bool
        One key (``switch_key``) starts and pauses the session and, outside BCI control,
        drives row-column scanning of the grid.
    scan_interval : float
        Seconds each row (then each cell) stays highlighted while scanning (0.3-10).
    switch_key : str
        The switch key, as Qt names it (``"F8"``, ``"Space"``, ...).
    speak_words : bool
        Speak each finished word (needs a speech engine, see :mod:`neurospell.gui.speech`).
    photodiode : bool
        Show the photodiode square in the grid's corner.
    timing_check : bool
        Timing-check mode: the photodiode square is shown and, when a session's calibration
        ends and when the session ends, the window reports the photodiode's offset and jitter
        after the flash markers (:func:`neurospell.session.timing.timing_check` on the
        session folder's recordings).
    photodiode_channel : str
        The recorded channel the photodiode is plugged into (timing-check mode).
    swap_stamping : str
        ``"auto"``: where the platform has hardware OpenGL, compose the window with OpenGL and
        stamp each flash's onset at the buffer swap of its frame (vsync where the driver has
        it) instead of after paint (:mod:`neurospell.gui.grid`); ``"on"``: also with a software
        renderer (no vsync; costly); ``"off"``: after paint. ``true``/``false`` read as
        ``"auto"``/``"off"``. Read when the window opens.
    text_lsl, text_clipboard, text_keys : bool
        Text out (:mod:`neurospell.gui.textout`): the typed text on the LSL stream
        ``neurospell-text`` (from the next session on), to the system clipboard, as key presses
        into the focused window (X11 only).
    """

    theme: str = "auto"
    font_scale: float = 1.25
    grid_scale: float = 1.0
    single_switch: bool = False
    scan_interval: float = 1.5
    switch_key: str = "F8"
    speak_words: bool = False
    photodiode: bool = False
    timing_check: bool = False
    photodiode_channel: str = "PD"
    swap_stamping: str = "auto"
    text_lsl: bool = False
    text_clipboard: bool = False
    text_keys: bool = False

    def __post_init__(self):
        check_option("theme", self.theme, ("auto", "high-contrast", "light"))
        check_range("font_scale", self.font_scale, 0.5, 4.0)
        check_range("grid_scale", self.grid_scale, 0.5, 2.0)
        check_range("scan_interval", self.scan_interval, 0.3, 10.0)
        if isinstance(self.swap_stamping, bool):
            object.__setattr__(self, "swap_stamping", "auto" if self.swap_stamping else "off")
        check_option("swap_stamping", self.swap_stamping, SWAP_STAMPING)
        if not isinstance(self.photodiode_channel, str) or not self.photodiode_channel.strip():
            raise NeurospellError(
                f"[gui] photodiode_channel must name the photodiode's channel (e.g. 'PD'), got {self.photodiode_channel!r}."
            )
        if not isinstance(self.switch_key, str) or _key_from_name(self.switch_key) is None:
            raise NeurospellError(
                f"[gui] switch_key {self.switch_key!r} is not a key Qt knows; use a name such as "
                "'F8', 'Space', 'Return' or 'Pause'."
            )

    @property
    def switch_qt_key(self) -> int:
        """The switch key as a ``Qt.Key`` value."""
        return _key_from_name(self.switch_key)


def _key_from_name(name: str) -> int | None:
    ks = QtGui.QKeySequence(name)
    if ks.count() != 1 or ks[0].keyboardModifiers() != QtCore.Qt.KeyboardModifier.NoModifier:
        return None
    value = int(ks[0].key().value)
    return value if value and value != int(QtCore.Qt.Key.Key_unknown.value) else None


def default_settings_dir() -> Path:
    """The user's neurospell config folder (``QStandardPaths.AppConfigLocation``)."""
    base = QtCore.QStandardPaths.writableLocation(QtCore.QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(base or Path.home() / ".config") / "neurospell"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a valid TOML basic string


def _write(path: Path, text: str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a config
    return path


def save_config(config: Config, path) -> Path:
    """Write every section of ``config`` to ``path`` (TOML, loadable by ``load_config``)."""
    if not isinstance(config, Config):
        raise NeurospellError(f"config must be a neurospell Config, got {type(config).__name__}.")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_config(config, path, overwrite=True, header="neurospell config written by `neurospell gui` (Save settings)")


def save_settings(settings: GuiSettings, path) -> Path:
    """Write ``settings`` as the ``[gui]`` table of ``path``."""
    lines = ["# neurospell GUI preferences (`neurospell gui`, Save settings)", "[gui]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in asdict(settings).items()]
    return _write(path, "\n".join(lines) + "\n")


def load_settings(path) -> GuiSettings:
    """The ``[gui]`` table of ``path``; defaults when the file does not exist.

    Raises
    ------
    NeurospellError
        Naming the file and the key when it is not valid TOML or a value is out of range.
    """
    path = Path(path)
    if not path.exists():
        return GuiSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise NeurospellError(f"The GUI settings file {str(path)!r} is not valid TOML ({err}); fix or delete it.") from None
    table = data.get("gui", {})
    known = {f.name: f.type for f in fields(GuiSettings)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise NeurospellError(
            f"{str(path)!r}: unknown [gui] keys {unknown}; allowed: {sorted(known)}. Fix or delete the file."
        )
    try:
        return replace(GuiSettings(), **table)
    except NeurospellError as err:
        raise NeurospellError(f"{str(path)!r} [gui]: {err}") from None
