"""Speaking finished words: QtTextToSpeech where present, else pyttsx3, else a clear message.

Neither engine is a dependency of neurospell: ``QtTextToSpeech`` ships with PySide6-Addons
(not PySide6-Essentials, which neurospell pins), ``pyttsx3`` is a separate package (it needs
espeak-ng on Linux). :func:`open_speech` tries them in that order and returns a
:class:`Speech` whose :attr:`Speech.engine` is ``"none"`` and whose :attr:`Speech.problem`
says what to install when neither is found; :meth:`Speech.say` then does nothing.

pyttsx3's ``runAndWait`` blocks, so it runs on its own thread with a queue: the GUI thread
never waits for speech.
"""

from __future__ import annotations

import queue
import threading

from neurospell.logs import logger

__all__ = ["Speech", "open_speech", "NO_ENGINE_MESSAGE"]

#: What the window says when no speech engine was found.
NO_ENGINE_MESSAGE = (
    "No speech engine found: install PySide6-Addons (QtTextToSpeech) or pyttsx3 "
    "(with espeak-ng on Linux) to hear each finished word."
)


class Speech:
    """Says words with whichever engine was found (see :func:`open_speech`).

    Attributes
    ----------
    engine : ``"qt"`` | ``"pyttsx3"`` | ``"none"``
    problem : str | None
        Why nothing will be spoken (``None`` when an engine works).
    """

    def __init__(self, engine: str, backend=None, problem: str | None = None):
        self.engine = engine
        self.problem = problem
        self._backend = backend
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        #: Words handed to the engine (for tests and the status line).
        self.spoken: list[str] = []
        if engine == "pyttsx3":
            self._queue = queue.Queue()
            self._thread = threading.Thread(target=self._pyttsx3_loop, name="neurospell-speech", daemon=True)
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

    def _pyttsx3_loop(self) -> None:
        engine = self._backend
        while True:
            text = self._queue.get()
            if text is None:
                return
            try:
                engine.say(text)
                engine.runAndWait()
            except Exception as err:  # noqa: BLE001 - a speech failure must never stop the speller
                logger.warning("pyttsx3 failed to speak %r: %s", text, err)

    def close(self) -> None:
        """Stop the speech thread (pyttsx3)."""
        if self._queue is not None:
            self._queue.put(None)
            self._thread.join(timeout=2.0)
            self._queue = None


def open_speech(prefer: str = "auto") -> Speech:
    """The first speech engine that works: QtTextToSpeech, then pyttsx3.

    Parameters
    ----------
    prefer : ``"auto"`` | ``"none"``
        ``"none"`` skips the search (speech switched off).

    Returns
    -------
    speech : Speech
        ``engine == "none"`` and :data:`NO_ENGINE_MESSAGE` as ``problem`` when none works.
    """
    if prefer == "none":
        return Speech("none", problem="Speech is switched off.")
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
    return Speech("none", problem=NO_ENGINE_MESSAGE)
