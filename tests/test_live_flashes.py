"""The live session's flash scheduler (no LSL): order, cancelling, onsets from another thread."""

import threading
import time

from neurospell.config import Config
from neurospell.markers import flash_to_str
from neurospell.session.live.flashes import FlashScheduler


class Display:
    """A display that presents nothing by itself: the test reports the onsets."""

    def __init__(self, cancellable=True):
        self.shown = []
        self.queued = 0
        if not cancellable:
            self.cancel_flashes = None

    def show_flashes(self, groups):
        self.shown.extend(groups)
        self.queued += len(groups)

    def cancel_flashes(self):
        n, self.queued = self.queued, 0
        return n


def _scheduler(**kw):
    layout = Config().speller.layout()
    return FlashScheduler(Display(**kw), layout), layout


def _sent(sched):
    out = []
    sched.send_shown(lambda label, onset: out.append((label, onset)))
    return out


def test_onsets_become_markers_in_order_with_their_tags():
    sched, layout = _scheduler()
    sym = layout.symbols[0]
    sched.show([0, 7], ("calibration", 1, sym))
    sched.show([3], ("copy", 2, None))
    assert sched.display.shown == [0, 7, 3]
    assert sched.n_scheduled() == 3
    sched.on_onset(0, 1.0)
    sched.on_onset(7, 1.2)
    assert sched.n_scheduled() == 3  # shown, markers not sent yet
    sent = _sent(sched)
    target0 = layout.symbols.index(sym) in layout.flash_groups[0]
    target7 = layout.symbols.index(sym) in layout.flash_groups[7]
    assert target0 != target7 or not target0  # (the first symbol is in one row and one column)
    assert sent == [(flash_to_str(1, target0), 1.0), (flash_to_str(8, target7), 1.2)]
    assert sched.n_scheduled() == 1
    sched.on_onset(3, 1.4)
    assert _sent(sched) == [(flash_to_str(4, None), 1.4)]
    assert (sched.n_flashes, sched.n_phase, sched.n_spell, sched.n_spell_run) == (3, 3, 1, 1)
    sched.new_phase()
    sched.new_run()
    assert (sched.n_flashes, sched.n_phase, sched.n_spell, sched.n_spell_run) == (3, 0, 1, 0)


def test_cancel_drops_the_flashes_not_shown_the_last_ones_first():
    sched, layout = _scheduler()
    sched.show([1, 2], ("copy", 1, None))
    sched.on_onset(1, 2.0)  # the display showed one; it still has one queued
    sched.display.queued = 1
    sched.cancel()
    assert sched.n_scheduled() == 1  # the onset shown still sends its marker
    assert _sent(sched) == [(flash_to_str(2, None), 2.0)]
    assert sched.n_scheduled() == 0


def test_a_display_that_cannot_cancel_keeps_the_schedule_and_an_untagged_onset_is_sent():
    sched, layout = _scheduler(cancellable=False)
    sched.show([4], ("free", 1, None))
    sched.cancel()
    assert sched.n_scheduled() == 1
    sched.on_onset(4, 3.0)
    sched.on_onset(5, 3.1)  # a flash the scheduler did not ask for: no tag, not a spelling flash
    assert _sent(sched) == [(flash_to_str(5, None), 3.0), (flash_to_str(6, None), 3.1)]
    assert sched.n_flashes == 2 and sched.n_spell == 1


def test_onsets_reported_from_another_thread_keep_their_order():
    sched, layout = _scheduler()
    n = 2000
    groups = [i % layout.n_groups for i in range(n)]
    sched.show(groups, ("copy", 1, None))

    def display_thread():
        for i, g in enumerate(groups):
            sched.on_onset(g, float(i))

    t = threading.Thread(target=display_thread)
    t.start()
    sent = []
    deadline = time.monotonic() + 60.0
    while len(sent) < n and time.monotonic() < deadline:  # the worker sends while the display reports
        sched.send_shown(lambda label, onset: sent.append((label, onset)))
    t.join()
    assert [onset for _label, onset in sent] == [float(i) for i in range(n)]
    assert [label for label, _onset in sent] == [flash_to_str(g + 1, None) for g in groups]
    assert sched.n_scheduled() == 0 and sched.n_spell_run == n
