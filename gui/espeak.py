"""The bundled voice: eSpeak NG from the ``espeakng-loader`` wheel, called through ctypes.

The wheel (a dependency of neurospell) carries ``libespeak-ng`` and its ``espeak-ng-data``
(pronunciation rules and voices for about 100 languages), so speech needs no system package
and downloads nothing. eSpeak NG is GPL-3.0-or-later; it is loaded at run time as a separate
shared library and neurospell's own code keeps its BSD-3 licence.

The library keeps one global state per process: every call goes through :data:`_LOCK`, and
:class:`EspeakVoice` is meant to be used from the speech thread of
:class:`neurospell.gui.speech.Speech`, never from the GUI thread.
"""

from __future__ import annotations

import ctypes
import threading
import wave
from pathlib import Path

import numpy as np

from neurospell.check import NeurospellError

__all__ = ["EspeakVoice", "espeak_paths", "write_wav"]

_AUDIO_OUTPUT_SYNCHRONOUS = 2  # samples handed to the callback, espeak_Synth returns when done
_INITIALIZE_DONT_EXIT = 0x8000  # report errors instead of calling exit()
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE = 1  # espeakRATE: words per minute
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_LOCK = threading.Lock()
_state: dict = {}  # lib, rate, callback (kept alive), chunks, voice


def espeak_paths() -> tuple[Path, Path]:
    """The library and the folder holding ``espeak-ng-data``, from the ``espeakng-loader`` wheel.

    Raises
    ------
    NeurospellError
        When the wheel is not installed or lacks its files.
    """
    try:
        import espeakng_loader
    except ImportError as err:
        raise NeurospellError(
            f"the bundled voice's package espeakng-loader is not installed ({err}); it is a dependency "
            "of neurospell: reinstall with `make install`, or `pip install espeakng-loader`.") from err
    lib = Path(espeakng_loader.get_library_path())
    data = Path(espeakng_loader.__file__).parent
    if not lib.exists() or not (data / "espeak-ng-data").is_dir():
        raise NeurospellError(f"espeakng-loader is installed but lacks {lib.name} or espeak-ng-data "
                              f"under {data}; reinstall it (`pip install --force-reinstall espeakng-loader`).")
    return lib, data


def _on_samples(wav, n, _events) -> int:
    if n > 0:
        _state["chunks"].append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
    return 0  # 0: go on


def _load() -> dict:
    """Load and initialise the library once per process (under :data:`_LOCK`)."""
    if _state:
        return _state
    lib_path, data = espeak_paths()
    try:
        lib = ctypes.CDLL(str(lib_path))
    except OSError as err:
        raise NeurospellError(f"Could not load the bundled eSpeak NG library {lib_path}: {err}") from err
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                 ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data).encode(), _INITIALIZE_DONT_EXIT)
    if rate <= 0:
        raise NeurospellError(f"eSpeak NG could not start with its data under {data} (error {rate}); "
                              "reinstall espeakng-loader.")
    callback = _CALLBACK(_on_samples)
    lib.espeak_SetSynthCallback(callback)
    _state.update(lib=lib, rate=rate, callback=callback, chunks=[], voice=None)
    return _state


class EspeakVoice:
    """Text to speech samples with the bundled eSpeak NG.

    Parameters
    ----------
    voice : str
        An eSpeak NG voice or language, e.g. ``"en-us"``, ``"en"``, ``"de"``, ``"fr"``.
    words_per_minute : int
        Speaking rate (80 to 450).

    Raises
    ------
    NeurospellError
        When the library cannot be loaded, or ``voice``/``words_per_minute`` is not allowed.
    """

    def __init__(self, voice: str = "en-us", words_per_minute: int = 160):
        if not 80 <= int(words_per_minute) <= 450:
            raise NeurospellError(f"words_per_minute must be within 80 to 450, got {words_per_minute!r}.")
        self.voice = str(voice)
        self.words_per_minute = int(words_per_minute)
        with _LOCK:
            self.sample_rate = _load()["rate"]
            self._select()

    def _select(self) -> None:
        """Make this voice the library's current one (under :data:`_LOCK`)."""
        st = _state
        if st["voice"] == (self.voice, self.words_per_minute):
            return
        if st["lib"].espeak_SetVoiceByName(self.voice.encode()) != 0:
            raise NeurospellError(f"eSpeak NG has no voice {self.voice!r}; use a language code such as "
                                  "'en-us', 'en', 'de' or 'fr'.")
        st["lib"].espeak_SetParameter(_RATE, self.words_per_minute, 0)
        st["voice"] = (self.voice, self.words_per_minute)

    def synthesize(self, text: str) -> np.ndarray:
        """The speech for ``text``: mono int16 samples at :attr:`sample_rate` (empty for no text)."""
        data = str(text).strip().encode("utf-8") + b"\0"
        if len(data) == 1:
            return np.zeros(0, np.int16)
        with _LOCK:
            self._select()
            st = _state
            st["chunks"] = []
            err = st["lib"].espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            chunks, st["chunks"] = st["chunks"], []
        if err != 0:
            raise NeurospellError(f"eSpeak NG could not speak {text!r} (error {err}).")
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


def write_wav(path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write mono int16 ``samples`` to a WAV file."""
    path = Path(path)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(np.asarray(samples, np.int16).tobytes())
    return path
