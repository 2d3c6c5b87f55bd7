"""The Settings tab: display preferences (:class:`GuiSettings`) and the speller's timing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from neurospell.check import NeurospellError
from neurospell.config import Config

from .grid import frames_for_duration
from .named import button, named
from .settings import GuiSettings, save_config, save_settings
from .theme import apply_theme

__all__ = ["SettingsView", "SettingsBinding"]


class SettingsView(QtWidgets.QWidget):
    """The Settings tab's form.

    Signals
    -------
    edited()
        A preference changed (the window reads :meth:`settings` and applies it).
    saveRequested()
        *Save settings* was pressed.
    """

    edited = QtCore.Signal()
    saveRequested = QtCore.Signal()

    #: The controls (attributes), also offered by the window under the same names.
    CONTROLS = ("theme_box", "font_spin", "grid_scale_spin", "switch_check", "switch_key_edit", "scan_spin",
                "speak_check", "photodiode_check", "timing_check_box", "pd_channel_edit", "soa_spin", "flash_spin",
                "reps_spin", "threshold_spin", "save_button", "settings_label", "text_lsl_check",
                "text_clipboard_check", "text_keys_check")

    def __init__(self, settings: GuiSettings, config: Config, config_path: Path, settings_path: Path, parent=None):
        super().__init__(parent)
        form = QtWidgets.QFormLayout(self)
        s, sp = settings, config.speller

        def spin(name, desc, lo, hi, value, step, decimals=2, suffix=""):
            w = QtWidgets.QDoubleSpinBox()
            w.setRange(lo, hi)
            w.setDecimals(decimals)
            w.setSingleStep(step)
            w.setValue(value)
            w.setSuffix(suffix)
            return named(w, name, desc)

        self.theme_box = named(QtWidgets.QComboBox(), "Theme",
                               "auto follows the system's contrast preference; high contrast is white on black.")
        for mode in ("auto", "high-contrast", "light"):
            self.theme_box.addItem(mode, mode)
        self.theme_box.setCurrentIndex(self.theme_box.findData(s.theme))
        self.font_spin = spin("Font scale", "Size of all text, times the system's.", 0.5, 4.0, s.font_scale, 0.25)
        self.grid_scale_spin = spin("Grid symbol scale", "Size of the symbols in the grid cells.", 0.5, 2.0,
                                    s.grid_scale, 0.1)
        self.switch_check = named(QtWidgets.QCheckBox("Single-switch mode"), "Single-switch mode",
                                  "One key pauses the session and, outside BCI control, scans the grid.")
        self.switch_check.setChecked(s.single_switch)
        self.switch_key_edit = named(QtWidgets.QLineEdit(s.switch_key), "Switch key",
                                     "The single switch's key, e.g. F8, Space, Pause.")
        self.scan_spin = spin("Scan interval", "Seconds each row or cell stays highlighted while scanning.",
                              0.3, 10.0, s.scan_interval, 0.1, suffix=" s")
        self.speak_check = named(QtWidgets.QCheckBox("Speak each finished word"), "Speak words",
                                 "Read each finished word aloud (needs a speech engine).")
        self.speak_check.setChecked(s.speak_words)
        self.photodiode_check = named(QtWidgets.QCheckBox("Photodiode square"), "Photodiode square",
                                      "A square in the grid's corner that is white during flashes (timing checks).")
        self.photodiode_check.setChecked(s.photodiode)
        self.timing_check_box = named(QtWidgets.QCheckBox("Timing-check mode"), "Timing-check mode",
                                      "Show the photodiode square and report the photodiode's offset and jitter "
                                      "after the flash markers when the calibration and the session end.")
        self.timing_check_box.setChecked(s.timing_check)
        self.pd_channel_edit = named(QtWidgets.QLineEdit(s.photodiode_channel), "Photodiode channel",
                                     "The recorded channel the photodiode is plugged into (timing-check mode).")
        self.soa_spin = spin("Stimulus onset asynchrony", "[speller] soa: time between flash onsets.",
                             30, 2000, 1000 * sp.soa, 5, 1, " ms")
        self.flash_spin = spin("Flash duration", "[speller] flash_duration: how long a flash stays lit.",
                               10, 1000, 1000 * sp.flash_duration, 5, 1, " ms")
        self.reps_spin = named(QtWidgets.QSpinBox(), "Maximum repetitions",
                               "[speller] max_repetitions: repetitions before a decision is forced.")
        self.reps_spin.setRange(1, 50)
        self.reps_spin.setValue(sp.max_repetitions)
        self.threshold_spin = spin("Stopping threshold", "[speller] stop_threshold: posterior that stops flashing.",
                                   0.5, 1.0, sp.stop_threshold, 0.01)
        self.text_lsl_check = named(QtWidgets.QCheckBox("Send the text on LSL"), "Text out: LSL",
                                    "The typed text on the LSL stream neurospell-text, one sample per change "
                                    "(the whole text); from the next session on.")
        self.text_clipboard_check = named(QtWidgets.QCheckBox("Copy the text to the clipboard"), "Text out: clipboard",
                                          "The typed text to the system clipboard at each change.")
        self.text_keys_check = named(QtWidgets.QCheckBox("Type the text into the focused window"), "Text out: keys",
                                     "Each change typed as key presses into the window with the keyboard focus "
                                     "(X11 only; not Wayland, macOS or Windows).")
        for check, on in ((self.text_lsl_check, s.text_lsl), (self.text_clipboard_check, s.text_clipboard),
                          (self.text_keys_check, s.text_keys)):
            check.setChecked(on)
        self.save_button = button("Sa&ve settings", "save_settings",
                                  "Write the settings to the TOML config and the GUI preferences (Ctrl+S).")
        self.settings_label = QtWidgets.QLabel(f"{config_path}\n{settings_path}")
        self.settings_label.setAccessibleName("Settings files")
        self.settings_label.setWordWrap(True)
        for label, w in (("Theme", self.theme_box), ("Font scale", self.font_spin),
                         ("Grid symbol scale", self.grid_scale_spin), ("", self.switch_check),
                         ("Switch key", self.switch_key_edit), ("Scan interval", self.scan_spin),
                         ("", self.speak_check), ("", self.photodiode_check), ("", self.timing_check_box),
                         ("Photodiode channel", self.pd_channel_edit), ("SOA", self.soa_spin),
                         ("Flash duration", self.flash_spin), ("Max repetitions", self.reps_spin),
                         ("Stopping threshold", self.threshold_spin), ("Text out", self.text_lsl_check),
                         ("", self.text_clipboard_check), ("", self.text_keys_check), ("", self.save_button),
                         ("Files", self.settings_label)):
            form.addRow(label, w)
        changed = self.edited.emit
        self.theme_box.currentIndexChanged.connect(lambda _i: changed())
        self.font_spin.valueChanged.connect(lambda _v: changed())
        self.grid_scale_spin.valueChanged.connect(lambda _v: changed())
        self.switch_check.toggled.connect(lambda _v: changed())
        self.switch_key_edit.editingFinished.connect(changed)
        self.scan_spin.valueChanged.connect(lambda _v: changed())
        self.speak_check.toggled.connect(lambda _v: changed())
        self.photodiode_check.toggled.connect(lambda _v: changed())
        self.timing_check_box.toggled.connect(lambda _v: changed())
        self.pd_channel_edit.editingFinished.connect(changed)
        for check in (self.text_lsl_check, self.text_clipboard_check, self.text_keys_check):
            check.toggled.connect(lambda _v: changed())
        self.save_button.clicked.connect(lambda *_: self.saveRequested.emit())

    def settings(self, current: GuiSettings) -> GuiSettings:
        """``current`` with the tab's preferences (those the tab does not show, e.g.
        ``swap_stamping``, are kept); raises :class:`NeurospellError` for a bad value."""
        return replace(current, theme=self.theme_box.currentData(),
                       font_scale=round(self.font_spin.value(), 2),
                       grid_scale=round(self.grid_scale_spin.value(), 2),
                       single_switch=self.switch_check.isChecked(),
                       scan_interval=round(self.scan_spin.value(), 2),
                       switch_key=self.switch_key_edit.text().strip() or "F8",
                       speak_words=self.speak_check.isChecked(), photodiode=self.photodiode_check.isChecked(),
                       timing_check=self.timing_check_box.isChecked(),
                       photodiode_channel=self.pd_channel_edit.text().strip(),
                       text_lsl=self.text_lsl_check.isChecked(), text_clipboard=self.text_clipboard_check.isChecked(),
                       text_keys=self.text_keys_check.isChecked())

    def edited_config(self, config: Config) -> Config:
        """``config`` with the timing and stopping rule of the tab."""
        sp = replace(config.speller, soa=round(self.soa_spin.value() / 1000, 4),
                     flash_duration=round(self.flash_spin.value() / 1000, 4),
                     max_repetitions=self.reps_spin.value(), stop_threshold=round(self.threshold_spin.value(), 3),
                     min_repetitions=min(config.speller.min_repetitions, self.reps_spin.value()))
        return replace(config, speller=sp)


class SettingsBinding:
    """The Settings tab applied to :class:`~neurospell.gui.window.SpellerWindow` (a mixin: it
    uses the window's ``settings``, ``settings_view``, ``grid``, ``text_panel``, ``scanner``,
    ``switch_filter``, ``announcer``, ``config`` and the paths to save to)."""

    def _settings_changed(self) -> None:
        try:
            new = self.settings_view.settings(self.settings)
        except NeurospellError as err:
            self.set_status(str(err))
            return
        old, self.settings = self.settings, new
        if (old.theme, old.font_scale) != (new.theme, new.font_scale):
            self.theme = apply_theme(QtWidgets.QApplication.instance(), new.theme, new.font_scale)
            self.grid.set_theme(self.theme)
            self.text_panel.set_text_scale(2.0)
        self.grid.set_cell_font_scale(new.grid_scale)
        if (old.photodiode or old.timing_check) != (new.photodiode or new.timing_check):
            self.grid.photodiode = new.photodiode or new.timing_check
            self.grid.update()
        self.scanner.set_interval(new.scan_interval)
        self.switch_filter.set_enabled(new.single_switch)
        if not new.single_switch:
            self.scanner.stop()
        if old.speak_words != new.speak_words:
            self._apply_speech(new.speak_words)
        if (old.text_lsl, old.text_clipboard, old.text_keys) != (new.text_lsl, new.text_clipboard, new.text_keys):
            self._apply_text_out(new)

    def _apply_text_out(self, s: GuiSettings) -> str | None:
        """Turn the window's text-out sinks on or off (``self.text_out``); a sink the platform
        refused is unticked, and why is shown and returned."""
        problems = self.text_out.configure(lsl=s.text_lsl, clipboard=s.text_clipboard, keys=s.text_keys)
        if not problems:
            return None
        self.settings = replace(self.settings, **{f"text_{name}": False for name in problems})
        for name in problems:
            check = getattr(self.settings_view, f"text_{name}_check")
            check.blockSignals(True)
            check.setChecked(False)
            check.blockSignals(False)
        message = " ".join(problems.values())
        self.set_status(message)
        return message

    def _apply_speech(self, on: bool) -> str | None:
        """Open or close the speech engine; the problem (no engine found) is returned and shown."""
        problem = self.announcer.set_speech(on)
        if problem:
            self.set_status(problem)
        return problem

    def _show_speech_problem(self, problem: str) -> None:
        """After what the status line says (the speech thread found no sound output)."""
        if problem not in self.status.text():
            self.set_status(f"{self.status.text()} {problem}".strip())

    def edited_config(self) -> Config:
        """The config with the timing and stopping rule of the Settings tab."""
        return self.settings_view.edited_config(self.config)

    def save_all_settings(self) -> None:
        """Write the config (TOML) and the GUI preferences; apply the timing to the grid."""
        try:
            config = self.edited_config()
            rate = self.grid.refresh_rate
            flash = frames_for_duration("[speller] flash_duration", config.speller.flash_duration, rate)
            soa = frames_for_duration("[speller] soa", config.speller.soa, rate)
            if soa <= flash:
                raise NeurospellError("[speller] soa must be at least one frame longer than [speller] flash_duration.")
            self.config = config
            if not self.grid.is_flashing:
                self.grid.set_timing(flash, soa - flash)
            save_config(config, self.config_path)
            save_settings(self.settings, self.settings_path)
        except (NeurospellError, OSError) as err:
            self.set_status(f"Settings not saved: {err}")
            return
        self.set_status(f"Settings saved to {self.config_path} and {self.settings_path}.")
