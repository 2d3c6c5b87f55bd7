"""Playing synthesised speech: ALSA on Linux, ``winsound`` on Windows, ``afplay`` on macOS.

Each call blocks until the sound was handed to the device and played out, so it runs on the
speech thread (:class:`neurospell.gui.speech.Speech`), never on the GUI thread. On Linux it
talks to ALSA's library (``libasound.so.2``, package ``libasound2``, on every Linux desktop with
sound) through ctypes and plays on ALSA's ``default`` device, which PipeWire and PulseAudio
desktops route to their sound server. Without the library or a sound device, :func:`play`
raises :class:`SoundOutputError` saying why.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import subprocess
import sys
import tempfile
import threading

import numpy as np

__all__ = ["SoundOutputError", "check_output", "play", "sound_backend"]

_SND_PCM_STREAM_PLAYBACK = 0
_SND_PCM_FORMAT_S16_LE = 2
_SND_PCM_ACCESS_RW_INTERLEAVED = 3
_LATENCY_US = 100_000
_ERROR_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)

_alsa: dict = {}
_alsa_lock = threading.Lock()


class SoundOutputError(OSError):
    """No sound can be played here (the message says why)."""


def sound_backend() -> str:
    """``"alsa"``, ``"winsound"`` or ``"afplay"``: how :func:`play` plays on this system."""
    if sys.platform.startswith("win"):
        return "winsound"
    if sys.platform == "darwin":
        return "afplay"
    return "alsa"


def _quiet(_file, _line, _function, _err, _fmt) -> None:
    """ALSA's error handler: its messages go nowhere (the error code says it to the caller)."""


def _libasound():
    with _alsa_lock:
        if not _alsa:
            name = ctypes.util.find_library("asound") or "libasound.so.2"
            try:
                lib = ctypes.CDLL(name)
            except OSError as err:
                raise SoundOutputError(f"ALSA's library is not installed ({err}); "
                                       "install it with `apt-get install libasound2`.") from err
            lib.snd_strerror.restype = ctypes.c_char_p
            lib.snd_pcm_open.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
            lib.snd_pcm_set_params.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                                               ctypes.c_uint, ctypes.c_int, ctypes.c_uint]
            lib.snd_pcm_writei.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulong]
            lib.snd_pcm_writei.restype = ctypes.c_long
            lib.snd_pcm_recover.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
            lib.snd_pcm_drain.argtypes = [ctypes.c_void_p]
            lib.snd_pcm_close.argtypes = [ctypes.c_void_p]
            handler = _ERROR_HANDLER(_quiet)
            lib.snd_lib_error_set_handler(handler)
            _alsa.update(lib=lib, handler=handler)
        return _alsa["lib"]


def _alsa_device(device: str | None) -> str:
    return device or os.environ.get("NEUROSPELL_ALSA_DEVICE", "default")


def _open_alsa(device: str):
    lib = _libasound()
    pcm = ctypes.c_void_p()
    code = lib.snd_pcm_open(ctypes.byref(pcm), device.encode(), _SND_PCM_STREAM_PLAYBACK, 0)
    if code < 0:
        raise SoundOutputError(f"ALSA could not open the sound device {device!r} "
                               f"({lib.snd_strerror(code).decode(errors='replace')}); "
                               "$NEUROSPELL_ALSA_DEVICE can name another ALSA device")
    return lib, pcm


def check_output(device: str | None = None) -> None:
    """Raise :class:`SoundOutputError` when :func:`play` cannot play here (ALSA: the device is
    opened and closed; elsewhere nothing is checked)."""
    if sound_backend() == "alsa":
        lib, pcm = _open_alsa(_alsa_device(device))
        lib.snd_pcm_close(pcm)


def _play_alsa(samples: np.ndarray, rate: int, device: str) -> None:
    lib, pcm = _open_alsa(device)

    def check(code: int, doing: str) -> None:
        if code < 0:
            raise SoundOutputError(f"ALSA could not {doing} on device {device!r}: "
                                   f"{lib.snd_strerror(code).decode(errors='replace')}")

    try:
        check(lib.snd_pcm_set_params(pcm, _SND_PCM_FORMAT_S16_LE, _SND_PCM_ACCESS_RW_INTERLEAVED, 1, int(rate), 1,
                                     _LATENCY_US), f"play mono 16-bit sound at {rate} Hz")
        done = 0
        while done < samples.size:
            n = lib.snd_pcm_writei(pcm, samples[done:].ctypes.data, samples.size - done)
            if n < 0:  # an underrun: recover once, else give up
                check(lib.snd_pcm_recover(pcm, int(n), 1), "play")
                continue
            done += n
        lib.snd_pcm_drain(pcm)
    finally:
        lib.snd_pcm_close(pcm)


def _play_file(samples: np.ndarray, rate: int, how: str) -> None:
    from .espeak import write_wav

    fd, name = tempfile.mkstemp(prefix="neurospell-speech-", suffix=".wav")
    os.close(fd)
    try:
        write_wav(name, samples, rate)
        if how == "winsound":
            import winsound

            winsound.PlaySound(name, winsound.SND_FILENAME)
        else:
            done = subprocess.run(["afplay", name], capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                raise SoundOutputError(f"afplay could not play the speech: {done.stderr.strip()}")
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as err:
        raise SoundOutputError(f"{how} could not play the speech: {err}") from err
    finally:
        os.unlink(name)


def play(samples: np.ndarray, rate: int, device: str | None = None) -> None:
    """Play mono int16 ``samples`` at ``rate`` Hz; returns once they were played.

    Parameters
    ----------
    device : str | None
        ALSA's device name (Linux; ``None``: ``$NEUROSPELL_ALSA_DEVICE`` or ``"default"``).

    Raises
    ------
    SoundOutputError
        No library, no device, or the device refused the sound.
    """
    samples = np.ascontiguousarray(samples, np.int16)
    if samples.size == 0:
        return
    how = sound_backend()
    if how == "alsa":
        _play_alsa(samples, rate, _alsa_device(device))
    else:
        _play_file(samples, rate, how)
