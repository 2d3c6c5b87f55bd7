"""Lab Streaming Layer set-up: discovery scope is configured before liblsl first reads it.

liblsl reads its configuration once, from the file named by ``$LSLAPICFG``, the first time
a stream is created or resolved. :func:`configure_lsl` writes that file from the
``[lsl]`` config section and must run before the first LSL call; :func:`get_pylsl` does it
(with the defaults: this machine only, loopback, IPv6 off) and returns the ``pylsl`` module.
Every part of neurospell that touches LSL goes through :func:`get_pylsl`.

liblsl's own log is set to fatal errors only (``[log] level = -3``): its ``ERR|`` lines (e.g.
"Stream transmission broke off" each time a stream ends) would reach the user's terminal with
C++ source paths, while neurospell reports a lost or stalled stream itself
(:class:`~neurospell.check.StreamError`) in words that say what to do. To see them, point
``$LSLAPICFG`` to an ``lsl_api.cfg`` of your own with ``[log] level = -2`` (or up to 9) and set
``NEUROSPELL_KEEP_LSLAPICFG=1``.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import threading
from pathlib import Path

from .config import LslConfig
from .logs import logger

_lock = threading.Lock()
_configured: str | None = None
_configured_text: str | None = None


def lsl_config_text(cfg) -> str:
    """The ``lsl_api.cfg`` text for an :class:`~neurospell.config.LslConfig`."""
    peers = ", ".join(cfg.known_peers)
    return (
        "[ports]\n"
        f"IPv6 = {cfg.ipv6}\n"
        "[multicast]\n"
        f"ResolveScope = {cfg.resolve_scope}\n"
        "[lab]\n"
        f"KnownPeers = {{{peers}}}\n"
        f"SessionID = {cfg.session_id}\n"
        "[log]\n"
        "level = -3\n"  # fatal only: no ERR| lines on the terminal (see the module docstring)
    )


def configure_lsl(cfg=None) -> Path:
    """Write the LSL API config for ``cfg`` and point ``$LSLAPICFG`` at it.

    Parameters
    ----------
    cfg : LslConfig | None
        ``None`` uses the defaults (loopback-only discovery).

    Returns
    -------
    path : Path
        The written ``lsl_api.cfg``.
    """
    global _configured, _configured_text
    if cfg is None and _configured is not None:  # fast path: already configured
        return Path(_configured)
    cfg = LslConfig() if cfg is None else cfg
    text = lsl_config_text(cfg)
    with _lock:
        if _configured is not None:
            if text != _configured_text and "pylsl" in sys.modules:
                logger.warning(
                    "LSL was already configured in this process; liblsl reads its configuration "
                    "once, so the new [lsl] settings take effect in new processes only."
                )
            return Path(_configured)
        existing = os.environ.get("LSLAPICFG")
        if existing and os.environ.get("NEUROSPELL_KEEP_LSLAPICFG"):
            _configured, _configured_text = existing, text
            return Path(existing)
        folder = Path(tempfile.gettempdir()) / f"neurospell-lsl-{os.getuid() if hasattr(os, 'getuid') else 0}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"lsl_api_{hashlib.sha1(text.encode()).hexdigest()[:12]}.cfg"
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
        os.environ["LSLAPICFG"] = str(path)
        _configured, _configured_text = str(path), text
        logger.debug("LSL configured from %s: scope=%s peers=%s", path, cfg.resolve_scope, cfg.known_peers)
        return path


def get_pylsl(cfg=None):
    """Configure LSL (once per process) and return the ``pylsl`` module."""
    configure_lsl(cfg)
    import pylsl

    return pylsl


def local_clock() -> float:
    """The LSL local clock, seconds (the one clock every timestamp in neurospell is on)."""
    return get_pylsl().local_clock()
