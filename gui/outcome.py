"""What the window says when a session ends: its result and where its folder is."""

from __future__ import annotations

__all__ = ["finished_message"]


def finished_message(result, folder=None, *, demo: bool = False, closing: bool = False) -> str:
    """One line on a finished session, for the status line and the terminal.

    Parameters
    ----------
    result : LiveResult
        The session's result (:meth:`~neurospell.session.live.LiveSession.result`), read once
        its worker ended (:attr:`~neurospell.gui.controller.SessionController.sessionEnded`).
    folder : path-like | None
        The session folder (said where it is).
    demo : bool
        ``neurospell gui --demo``: say that the demo is over and how to leave.
    closing : bool
        The window closes by itself (``--exit-when-done``).

    Returns
    -------
    message : str
    """
    s = result.summary()
    head = "Demo finished" if demo else "Session finished"
    parts = [f"typed {result.text!r}" + (f" (target {result.target_text!r})" if result.target_text else "")]
    acc = s["accuracy"]
    parts.append(f"{s['n_selections']} selection{'' if s['n_selections'] == 1 else 's'}"
                 + ("" if acc is None else f", accuracy {acc:.0%}"))
    if s["n_selections"]:
        parts.append(f"{s['chars_per_min']:.1f} chars/min" + ("" if acc is None else f", ITR {s['itr_bits_per_min']:.1f} "
                                                                                      "bits/min"))
    text = f"{head} ({result.stop_reason}): " + "; ".join(parts) + "."
    if demo:
        text += " The window closes now." if closing else " Close the window (or press Ctrl-C in the terminal) to exit."
    if folder is not None:  # (last: no full stop after the path)
        text += f" Session folder: {folder}"
    return text
