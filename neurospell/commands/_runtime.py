"""Running commands on the command line: waits that Ctrl-C can stop, progress on stderr."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

__all__ = ["interruptible", "progress_map", "heartbeat"]


def interruptible(func, *args, poll: float = 0.1, **kwargs):
    """Call ``func`` in a daemon thread and wait for it in a way Ctrl-C can stop.

    A blocking call into C (``pylsl.resolve_streams``) does not return to the interpreter,
    so SIGINT is not seen until it ends. Here the main thread waits with a short timeout,
    sees ``KeyboardInterrupt`` at once and leaves the daemon thread behind (it ends with the
    process). The result (or the exception) of ``func`` is returned (or raised).
    """
    out: dict = {}

    def run():
        try:
            out["value"] = func(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            out["error"] = err

    thread = threading.Thread(target=run, name=f"neurospell-{getattr(func, '__name__', 'call')}", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(poll)
    if "error" in out:
        raise out["error"]
    return out["value"]


def progress_map(func, items, *, desc: str, n_chunks: int = 20, weights=None, disable: bool | None = None):
    """Apply ``func`` to ``n_chunks`` consecutive slices of ``items`` with a progress bar on stderr.

    Returns the list of ``(func(chunk), elapsed_seconds, len(chunk))``. The bar (tqdm) shows
    only when stderr is a terminal unless ``disable=False``; otherwise one line per quarter.
    """
    from tqdm.auto import tqdm

    items = list(items)
    size = max(1, -(-len(items) // n_chunks))
    chunks = [items[i:i + size] for i in range(0, len(items), size)]
    total = sum(map(weights, items)) if weights else len(items)
    tty = sys.stderr.isatty()
    if disable is None:
        disable = not tty
    out = []
    done = 0
    next_report = 0.25
    with tqdm(total=total, desc=desc, file=sys.stderr, disable=disable, unit="char" if weights else "it",
              leave=False) as bar:
        for chunk in chunks:
            t0 = time.perf_counter()
            value = func(chunk)
            out.append((value, time.perf_counter() - t0, len(chunk)))
            step = sum(map(weights, chunk)) if weights else len(chunk)
            bar.update(step)
            done += step
            if disable and done / max(total, 1) >= next_report and done < total:
                print(f"{desc}: {100 * done / total:.0f} %", file=sys.stderr, flush=True)
                while next_report <= done / max(total, 1):
                    next_report += 0.25
    return out


@contextlib.contextmanager
def heartbeat(desc: str, every: float = 5.0, quiet: float = 1.0):
    """Show that an opaque long step is running (loading a model, fitting a classical decoder).

    Nothing is printed for a step shorter than ``quiet`` seconds; after that its name, then the
    elapsed time every ``every`` seconds and the total at the end, on stderr. ``Ctrl-C``
    interrupts the step as usual.
    """
    stop = threading.Event()
    shown = threading.Event()
    t0 = time.monotonic()

    def beat():
        if stop.wait(quiet):
            return
        shown.set()
        print(f"{desc}...", file=sys.stderr, flush=True)
        while not stop.wait(every):
            print(f"  {desc}: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)

    thread = threading.Thread(target=beat, name="neurospell-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    if shown.is_set():
        print(f"  {desc}: done in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
