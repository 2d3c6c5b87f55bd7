"""Speech with the bundled voice (eSpeak NG from the espeakng-loader wheel): real synthesis,
real WAV files, real ALSA playback into ALSA's own ``file`` device where there is no sound card."""

from __future__ import annotations

import threading
import wave

import numpy as np
import pytest
from helpers.system_deps import require_alsa

from neurospell.check import NeurospellError
from neurospell.gui.espeak import EspeakVoice, write_wav
from neurospell.gui.sound_out import SoundOutputError, play
from neurospell.gui.speech import open_speech


def _read_wav(path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth()) == (1, 2)
        return np.frombuffer(f.readframes(f.getnframes()), np.int16), f.getframerate()


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(a.astype(float) ** 2)))


def _spectrum(a: np.ndarray, rate: int) -> np.ndarray:
    """Log mean magnitude spectrum over 20 ms frames."""
    n = int(0.02 * rate)
    frames = a[: a.size // n * n].reshape(-1, n).astype(float) * np.hanning(n)
    return np.log(np.abs(np.fft.rfft(frames, axis=1)).mean(0) + 1)


def _file_device(path) -> str:
    """ALSA's ``file`` plugin: what is played is written to ``path`` as WAV (then discarded)."""
    return f"file:'{path}',wav"


def test_bundled_voice_speaks_words_as_audio(tmp_path):
    voice = EspeakVoice()
    audio = {}
    for word in ("HELLO", "WORLD"):
        wav = write_wav(tmp_path / f"{word}.wav", voice.synthesize(word), voice.sample_rate)
        audio[word], rate = _read_wav(wav)
        assert rate == voice.sample_rate > 8000
        assert 0.2 < audio[word].size / rate < 1.5, (word, audio[word].size / rate)
        assert _rms(audio[word]) > 500, word  # full scale 32767; silence 0
    again = voice.synthesize("HELLO")
    same = np.linalg.norm(_spectrum(audio["HELLO"], rate) - _spectrum(again, rate))
    other = np.linalg.norm(_spectrum(audio["HELLO"], rate) - _spectrum(audio["WORLD"], rate))
    assert other > 4 * same, (same, other)
    assert voice.synthesize("   ").size == 0
    # a longer text is a longer sound
    assert voice.synthesize("HELLO WORLD HOW ARE YOU").size > 2 * audio["HELLO"].size


def test_bundled_voice_bad_settings_are_named():
    with pytest.raises(NeurospellError, match="no voice 'xx-nosuch'.*'en-us'"):
        EspeakVoice("xx-nosuch")
    with pytest.raises(NeurospellError, match="words_per_minute must be within 80 to 450, got 20"):
        EspeakVoice(words_per_minute=20)
    assert EspeakVoice("de").synthesize("Hallo").size > 0
    with pytest.raises(NeurospellError, match="prefer must be 'auto', 'espeak-ng' or 'none', got 'qt'"):
        open_speech("qt")


def test_words_are_spoken_off_the_calling_thread_and_played_through_alsa(tmp_path, monkeypatch):
    require_alsa()
    out = tmp_path / "played.wav"
    monkeypatch.setenv("NEUROSPELL_ALSA_DEVICE", _file_device(out))
    problems = []
    speech = open_speech("espeak-ng", on_problem=problems.append)
    try:
        assert speech.engine == "espeak-ng" and speech.available
        speech.say("HELLO")
        assert speech.wait_until_spoken(20.0)
        first = out.read_bytes()
        speech.say("WORLD")
        assert speech.wait_until_spoken(20.0)
    finally:
        speech.close()
    assert problems == [] and speech.problem is None
    assert speech.synth_thread == "neurospell-speech" != threading.current_thread().name
    played, rate = _read_wav(out)  # the device got exactly the last word's samples
    samples, synth_rate = speech.last_audio
    assert rate == synth_rate and np.array_equal(played, samples)
    assert 0.2 < played.size / rate < 1.5 and _rms(played) > 500
    assert first != out.read_bytes()  # each word played anew
    assert speech.spoken == ["HELLO", "WORLD"]


def test_no_sound_device_is_said_once_and_words_are_still_synthesised(monkeypatch):
    monkeypatch.setenv("NEUROSPELL_ALSA_DEVICE", "neurospell_no_such_device")
    problems = []
    speech = open_speech("espeak-ng", on_problem=problems.append)
    try:
        assert speech.wait_until_spoken(20.0)  # said when speech is switched on, before any word
        assert len(problems) == 1 and "no sound output" in problems[0], problems
        for word in ("HELLO", "WORLD", "AGAIN"):
            speech.say(word)
        assert speech.wait_until_spoken(20.0)
    finally:
        speech.close()
    assert len(problems) == 1 and "no sound output" in problems[0], problems
    assert speech.problem == problems[0]
    assert _rms(speech.last_audio[0]) > 500  # synthesised all the same
    with pytest.raises(SoundOutputError, match="neurospell_no_such_device|apt-get install libasound2"):
        play(np.ones(100, np.int16), 22050, device="neurospell_no_such_device")


def test_speech_switched_off_says_nothing():
    speech = open_speech("none")
    assert not speech.available and speech.problem == "Speech is switched off."
    speech.say("HELLO")
    assert speech.spoken == [] and speech.wait_until_spoken(1.0)
