"""neurospell: a brain-computer-interface speller, EEG in, text out.

The core package holds what every stage shares: data types (:mod:`neurospell.types`),
validation helpers (:mod:`neurospell.check`), the package logger
(:mod:`neurospell.logs`), configuration (:mod:`neurospell.config`), marker coding
(:mod:`neurospell.markers`), LSL set-up and the raw log; it imports nothing of the stages.
The stage packages (``neurospell.acquisition``, ``neurospell.preprocessing``,
``neurospell.decoder``, ``neurospell.lm_fusion``) import the core and third-party code
only; the session layer (``neurospell.session``) wires them; the GUI (``neurospell.gui``)
and the command line (:mod:`neurospell.cli`, ``neurospell.commands``) sit on top.

Importing ``neurospell`` is cheap: it imports no stage and no heavy dependency.
"""

__version__ = "0.1.0"

from .logs import logger, set_log_level  # noqa: E402

__all__ = ["__version__", "logger", "set_log_level"]
