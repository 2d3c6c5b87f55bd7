"""Test helper (run under xvfb-run, Qt's xcb platform): a real X window with a text field takes
the keyboard focus; :class:`~neurospell.gui.textout.X11Keys` types a sequence of text changes
into it through XTEST; prints one JSON line: what the field held after each change."""

import json
import sys
import time

from PySide6 import QtCore, QtWidgets

from neurospell.gui.textout import X11Keys
from neurospell.session.textout import TextOut

#: The typed text, change by change (and its run): typing, a backspace, a word, then a new run.
TEXTS = [("H", 1), ("HE", 1), ("HEL", 1), ("HE", 1), ("HELP ", 1), ("HELP ME", 1), ("", 2), ("NO", 2)]
#: What the field holds after each: a new run erases nothing typed before.
EXPECTED = ["H", "HE", "HEL", "HE", "HELP ", "HELP ME", "HELP ME", "HELP MENO"]


def wait(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while not predicate() and time.monotonic() < end:
        QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
    return predicate()


def main():
    app = QtWidgets.QApplication(sys.argv)
    edit = QtWidgets.QLineEdit()
    edit.setWindowTitle("the focused window")
    edit.resize(400, 40)
    edit.move(0, 0)
    edit.show()
    edit.activateWindow()
    edit.setFocus()
    keys = X11Keys()
    # the pointer over the field: without a window manager Xvfb's focus may follow the pointer
    from Xlib import X
    from Xlib.ext import xtest

    xtest.fake_input(keys.display, X.MotionNotify, x=50, y=20)
    keys.display.sync()
    focused = wait(lambda: edit.hasFocus() and app.focusWindow() is not None)
    out = TextOut([keys])
    seen = []
    for (text, run), expected in zip(TEXTS, EXPECTED, strict=True):
        out.update(text, run=run)
        wait(lambda e=expected: edit.text() == e, timeout=5.0)
        seen.append(edit.text())
    print(json.dumps({"platform": app.platformName(), "focused": focused, "problems": out.problems,
                      "skipped": keys.skipped, "seen": seen, "expected": EXPECTED}), flush=True)
    keys.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
