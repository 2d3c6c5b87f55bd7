"""neurospell: a brain-computer-interface speller, EEG in, text out.

The core package holds what every stage shares: data types (:mod:`neurospell.types`),
validation helpers (:mod:`neurospell.check`), the package logger
(:mod:`neurospell.logs`), configuration (:mod:`neurospell.config`), the session wiring
and the command line. The stage packages (``neurospell.acquisition``,
``neurospell.preprocessing``, ``neurospell.decoder``, ``neurospell.lm_fusion``,
``neurospell.gui``) import the core and third-party code only.

Importing ``neurospell`` is cheap: it imports no stage and no heavy dependency.
"""

__version__ = "0.1.0"

from .logs import logger, set_log_level  # noqa: E402

__all__ = ["__version__", "logger", "set_log_level"]
