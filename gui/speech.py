"""Speaking finished words: QtTextToSpeech where present, else pyttsx3, else the bundled voice.

``QtTextToSpeech`` ships with PySide6-Addons (not PySide6-Essentials, which neurospell pins)
and ``pyttsx3`` is a separate package (it needs espeak-ng on Linux): neither is a dependency,
and either is used first when installed (they speak with the system's voices). The bundled
voice (``"espeak-ng"``) is: eSpeak NG from the ``espeakng-loader`` wheel
(:mod:`neurospell.gui.espeak`), played through :mod:`neurospell.gui.sound_out` (ALSA on Linux,
winsound on Windows, afplay on macOS). :func:`open_speech` returns a :class:`Speech` whose
:attr:`Speech.engine` is ``"none"`` and whose :attr:`Speech.problem` says what to install when
none works; :meth:`Speech.say` then does nothing.

pyttsx3's ``runAndWait`` blocks, and so do the bundled voice's synthesis and playback: they run
on a speech thread fed by a queue, so the GUI thread never waits for speech. When the bundled
voice finds no sound output, ``on_problem`` is called (from the speech thread) with the reason.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

import numpy as np

from neurospell.logs import logger

__all__ = ["Speech", "open_speech", "NO_ENGINE_MESSAGE"]

#: What the window says when no speech engine was found (followed by why the bundled voice failed).
NO_ENGINE_MESSAGE = "No speech engine found (PySide6-Addons' QtTextToSpeech or pyttsx3 would also do):"

_THREADED = ("pyttsx3", "espeak-ng")


class Speech:
    """Says words with whichever engine was found (see :func:`open_speech`).

    Attributes
    ----------
    engine : ``"qt"`` | ``"pyttsx3"`` | ``"espeak-ng"`` | ``"none"``
    problem : str | None
        Why nothing will be spoken, or (bundled voice) why nothing is heard.
    last_audio : tuple of (ndarray, int) | None
        The bundled voice's last word: int16 samples and the sample rate.
    """

    def __init__(self, engine: str, backend=None, problem: str | None = None,
                 on_problem: Callable[[str], None] | None = None):
        self.engine = engine
        self.problem = problem
        self._backend = backend
        self._on_problem = on_problem
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        #: Words handed to the engine (for tests and the status line).
        self.spoken: list[str] = []
        self.last_audio: tuple[np.ndarray, int] | None = None
        self.synth_thread: str | None = None  # where the bundled voice last synthesised
        self._output_ok: bool | None = None  # bundled voice: unknown until the first sound
        if engine in _THREADED:
            self._queue = queue.Queue()
            self._thread = threading.Thread(target=self._loop, name="neurospell-speech", daemon=True)
            self._thread.start()

    @property
    def available(self) -> bool:
        return self.engine != "none"

    def say(self, text: str) -> None:
        """Speak ``text`` (returns at once; nothing happens without an engine)."""
        text = str(text).strip()
        if not text or not self.available:
            return
        self.spoken.append(text)
        if self.engine == "qt":
            self._backend.say(text)
        else:
            self._queue.put(text)

    def wait_until_spoken(self, timeout: float = 10.0) -> bool:
        """Wait (not on the GUI thread) until every word handed to :meth:`say` was spoken."""
        if self._queue is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _loop(self) -> None:
        if self.engine == "espeak-ng" and not self._start_bundled():
            return
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            try:
                if self.engine == "pyttsx3":
                    self._backend.say(item)
                    self._backend.runAndWait()
                else:
                    self._speak_bundled(item)
            except Exception as err:  # noqa: BLE001 - a speech failure must never stop the speller
                logger.warning("%s failed to speak %r: %s", self.engine, item, err)

    def _report(self, message: str) -> None:
        if self._on_problem is not None:
            try:
                self._on_problem(message)
            except RuntimeError as err:  # e.g. the window was deleted meanwhile
                logger.debug("speech problem not shown: %s", err)

    def _start_bundled(self) -> bool:
        """Load the bundled voice on the speech thread (``backend`` is its factory)."""
        try:
            self._backend = self._backend()
        except Exception as err:  # noqa: BLE001 - NeurospellError, or a broken install
            self.problem = f"{NO_ENGINE_MESSAGE} {err}"
            logger.warning("%s", self.problem)
            self.engine = "none"
            self._report(self.problem)
            while (item := self._queue.get()) is not None:  # words are dropped; waiters are woken
                if isinstance(item, threading.Event):
                    item.set()
            return False
        from .sound_out import SoundOutputError, check_output

        try:  # said when speech is switched on, not at the first word
            check_output()
        except SoundOutputError as err:
            self._no_output(err)
        return True

    def _speak_bundled(self, text: str) -> None:
        from .sound_out import SoundOutputError, play

        samples = self._backend.synthesize(text)
        self.last_audio = (samples, self._backend.sample_rate)
        self.synth_thread = threading.current_thread().name
        try:
            play(samples, self._backend.sample_rate)
        except SoundOutputError as err:
            self._no_output(err)
            return
        if self._output_ok is False:
            self.problem = None
        self._output_ok = True

    def _no_output(self, err: Exception) -> None:
        if self._output_ok is not False:  # said once, not for every word
            self.problem = f"Speech: no sound output here, words are not heard: {err}."
            logger.warning("%s", self.problem)
            self._report(self.problem)
        self._output_ok = False

    def close(self) -> None:
        """Stop the speech thread (pyttsx3, bundled voice)."""
        if self._queue is not None:
            self._queue.put(None)
            self._thread.join(timeout=5.0)
            self._queue = None


def open_speech(prefer: str = "auto", on_problem: Callable[[str], None] | None = None) -> Speech:
    """The first speech engine that works: QtTextToSpeech, pyttsx3, then the bundled voice.

    Parameters
    ----------
    prefer : ``"auto"`` | ``"espeak-ng"`` | ``"none"``
        ``"none"`` skips the search (speech switched off); ``"espeak-ng"``: the bundled voice only.
    on_problem : callable | None
        Called with a message, from the speech thread, when the bundled voice finds no sound output.

    Returns
    -------
    speech : Speech
        ``engine == "none"`` and :data:`NO_ENGINE_MESSAGE` with the reason as ``problem`` when none works.
    """
    if prefer not in ("auto", "espeak-ng", "none"):
        from neurospell.check import NeurospellError

        raise NeurospellError(f"prefer must be 'auto', 'espeak-ng' or 'none', got {prefer!r}.")
    if prefer == "none":
        return Speech("none", problem="Speech is switched off.")
    if prefer == "auto":
        try:  # optional: PySide6-Addons
            from PySide6.QtTextToSpeech import QTextToSpeech

            tts = QTextToSpeech()
            if tts.engine() or QTextToSpeech.availableEngines():
                return Speech("qt", tts)
        except (ImportError, RuntimeError) as err:
            logger.debug("QtTextToSpeech not available: %s", err)
        try:  # optional: pyttsx3
            import pyttsx3

            return Speech("pyttsx3", pyttsx3.init())
        except Exception as err:  # noqa: BLE001 - ImportError, or its driver (espeak) missing
            logger.debug("pyttsx3 not available: %s", err)
    try:  # the bundled voice (a dependency); the library is loaded on the speech thread
        from .espeak import EspeakVoice, espeak_paths

        espeak_paths()
    except Exception as err:  # noqa: BLE001 - NeurospellError, or a broken install
        logger.warning("The bundled voice is not installed: %s", err)
        return Speech("none", problem=f"{NO_ENGINE_MESSAGE} {err}")
    return Speech("espeak-ng", EspeakVoice, on_problem=on_problem)
