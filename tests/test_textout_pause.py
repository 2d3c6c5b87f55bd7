"""The pause between selections in the live loop: the chosen symbol's feedback, then the next
selection's cue (copy spelling: the phrase's next symbol on the display), then its flashes.

A real live session over LSL with the simulated participant process and a decoder trained by
an earlier session (a recorded session folder's model); the display is the headless one, with
what it was asked to cue recorded on the LSL clock. No mocks, no fixed sleeps."""

import dataclasses
from pathlib import Path

import pytest
from test_live import Loop

from neurospell.config import Config
from neurospell.decoder import load_decoder
from neurospell.lsl import local_clock
from neurospell.markers import intended_symbol
from neurospell.session.headless import HeadlessDisplay
from neurospell.session.live import LiveSession, Start

SESSION = Path(__file__).parent / "data" / "sessions" / "parametric-18uv-hello" / "derivatives" / "neurospell"


@pytest.fixture
def loop_factory():
    made = []

    def make(*args):
        made.append(Loop(*args))
        return made[-1]

    yield make
    for lp in made:
        lp.close()


class CueLog(HeadlessDisplay):
    """The headless display, keeping each cue it was asked to show with its LSL time."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cues = []
        self.onsets = []
        self.on_onset(lambda group, onset: self.onsets.append(onset))

    def cue(self, symbol):
        self.cues.append((local_clock(), symbol))
        super().cue(symbol)


def test_feedback_then_cue_then_flashes(loop_factory):
    base = Config()
    sp = dataclasses.replace(base.speller, soa=0.1, flash_duration=0.05, inter_trial=0.8, feedback_time=0.3,
                             max_repetitions=4, max_selections=4, pause_after=0.5, max_minutes=3.0)
    cfg = dataclasses.replace(base, speller=sp)
    assert sp.cue_time == pytest.approx(0.5)
    phrase = "HI"
    lp = loop_factory(phrase, "--amplitude", 30)
    decoder = load_decoder(SESSION / "model.pkl", preprocess=cfg.preprocessing)
    display = CueLog.from_config(cfg.speller)
    s = LiveSession(cfg, lp.source, display, marker_outlet=lp.outlet, decoder=decoder, copy_text=phrase, seed=3)
    s.start()
    s.submit(Start())
    res = s.join(120.0)
    display.close()
    assert res.decisions, res.stop_reason
    t_start = [t for t, sym in display.cues if sym == phrase[0]][0]  # the first selection: its cue only
    assert t_start < display.onsets[0]
    shown = [(t, sym) for t, sym in display.cues if sym is not None]
    cleared = [t for t, sym in display.cues if sym is None]
    typed = ""
    checked = 0
    for k, d in enumerate(res.decisions):
        nxt = [t for t in display.onsets if t > d.t]
        typed = d.text
        if nxt:  # a selection followed: it waited the whole pause after the decision
            assert nxt[0] - d.t >= sp.inter_trial - 0.02, (k, nxt[0] - d.t)
        want = intended_symbol(phrase, typed)
        if want is None or want == "<" or not nxt:
            continue
        # the cue of the next symbol came after the feedback and went before the flashes
        cue_t = [t for t, sym in shown if t > d.t and sym == want]
        assert cue_t, (k, want, display.cues)
        assert cue_t[0] - d.t >= sp.feedback_time - 0.02, (k, cue_t[0] - d.t)
        off = [t for t in cleared if t > cue_t[0]]
        assert off and off[0] <= nxt[0] and off[0] - d.t >= sp.inter_trial - 0.02, (k, off, nxt[0])
        checked += 1
    assert checked >= 1, (res.text, display.cues)  # (a correct first selection: "I" was cued)
    assert display.cued is None  # cleared at the end
