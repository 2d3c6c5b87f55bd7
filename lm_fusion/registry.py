"""Building language models by name: the registry of :func:`~.base.register_model`, filled
by :mod:`.models` (imported here, so every shipped model is registered before a look-up)."""

from __future__ import annotations

from neurospell.check import check_option

from .base import _DESCRIPTIONS, _REGISTRY, LanguageModel
from .models import MixtureLM

__all__ = ["available_models", "make_model"]


def available_models() -> dict[str, str]:
    """Registered model names and one-line descriptions."""
    return dict(_DESCRIPTIONS)


def make_model(name: str, config=None, **kwargs) -> LanguageModel:
    """Build a registered language model.

    Parameters
    ----------
    name : str
        A name from :func:`available_models` (``"uniform"``, ``"ngram"``,
        ``"transformer"``, ``"mixture"``, ``"hf"``, ``"smollm2"``), or several joined by
        ``"+"`` for an equal-weight linear mixture (``"transformer+ngram"``).
    config : LanguageModelConfig | None
        The ``[lm]`` config section (``path`` for ``"hf"``...).
    **kwargs
        Passed to the factory.

    Returns
    -------
    LanguageModel
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}.")
    if "+" in name:
        parts = [make_model(p.strip(), config) for p in name.split("+")]
        return MixtureLM(parts, **kwargs)
    check_option("lm name", name, sorted(_REGISTRY),
                 hint="Use one of these names, or join several with '+' for a mixture.")
    model = _REGISTRY[name](config, **kwargs)
    model.name = name
    return model
