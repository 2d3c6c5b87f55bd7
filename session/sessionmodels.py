"""The models of a session: its speller engine and stream driver (built the same way live and
in a replay) and the identity of its language model."""

from __future__ import annotations

from pathlib import Path

from neurospell.config import Config
from neurospell.fileio import file_sha256
from neurospell.lm_fusion.ngram import default_ngram_path
from neurospell.logs import logger

from .drivers import StreamDriver
from .engine import SpellerEngine, model_alpha
from .modelswitch import SwitchingDecoder

__all__ = ["lm_identity", "make_engine", "make_driver", "align_stream"]


def lm_identity(name: str, lm=None, config=None) -> dict:
    """The identity of a language model: its name and the SHA-256 of the files it was built from.

    Parameters
    ----------
    name : str
        The registry name (``"ngram"``, ``"mixture"``, ``"transformer+ngram"``, ``"hf"`` ...).
    lm : LanguageModel | None
        The model object; its ``path`` attributes (and those of its parts) name the files.
    config : LanguageModelConfig | None
        The ``[lm]`` section (``path`` of an ``"hf"`` model).

    Returns
    -------
    identity : dict
        ``{"name", "path", "files": {path: sha256}}``.
    """
    paths: list[Path] = []

    def walk(m, depth=0):
        if m is None or depth > 4:
            return
        p = getattr(m, "path", None)
        if p:
            paths.append(Path(p))
        for attr in ("models", "parts", "_models"):
            for sub in getattr(m, attr, None) or ():
                walk(sub, depth + 1)

    walk(lm)
    if not paths and "ngram" in name:
        paths.append(Path(default_ngram_path(7)))
    files = {}
    for p in paths:
        if p.is_file():
            files[str(p)] = file_sha256(p)
        elif p.is_dir():
            for f in sorted(q for q in p.rglob("*") if q.is_file()):
                files[str(f)] = file_sha256(f)
    return {"name": name, "path": "" if config is None else str(getattr(config, "path", "")), "files": files}


# ----------------------------------------------------------------------------- engine/driver
def make_engine(config: Config, decoder, lm=None, lm_name: str | None = None, **overrides) -> SpellerEngine:
    """The speller engine of a session: what the live session and its replay both build.

    ``SpellerEngine.from_config(layout, decoder.score_model_, lm, config,
    model_alpha=model_alpha(decoder, lm_name))``: the LM weight is ``[lm] alpha`` when the
    config sets it, else the one training stored with the model.
    """
    return SpellerEngine.from_config(config.speller.layout(), decoder.score_model_, lm, config,
                                     model_alpha=model_alpha(decoder, lm_name), **overrides)


def make_driver(engines, decoder, config: Config, sfreq, ch_names, ch_types=None, **kw) -> StreamDriver:
    """The stream driver of a session phase (one per rawlog): one epoch scored per decoder
    call, the epocher's buffer sized from the epoch window; the live session and its replay
    use the same, so the replay reproduces every score bit for bit."""
    cfg = config.preprocessing
    kw.setdefault("buffer_seconds", max(10.0, 2 * (cfg.tmax - cfg.tmin) + 1.0))
    kw["one_epoch"] = True
    align_stream(decoder)
    return StreamDriver(engines, decoder, cfg, sfreq, ch_names, ch_types, **kw)


def align_stream(decoder) -> None:
    """A model that aligns each recording on its own epochs (a cross-subject model such as
    ``generic``) and has no reference yet aligns on the stream as its epochs come
    (:meth:`~neurospell.decoder.alignment.AlignmentMixin.align_online`: no label used; the
    session's runs are one recording, so the reference carries on from one run to the next).
    With online adaptation, the session's starting model is the one that may align."""
    model = decoder.base if isinstance(decoder, SwitchingDecoder) else decoder
    if (getattr(model, "aligns", False) and getattr(model, "alignment_target_", None) is None
            and not model.aligns_online):
        model.align_online()
        logger.info("%s aligns on the session's own unlabelled epochs as they come (no labels used).", model.name)

