"""Argument checks of the command line, in one place for every subcommand.

Two kinds, both run before any work is done:

- ``type=`` callables for ``add_argument`` (:func:`number`, :func:`input_file`,
  :func:`text_file`, :func:`recording_file`, :func:`model_file`, :func:`lm_name`,
  :func:`board_spec`): argparse reports a failure as
  ``neurospell CMD: error: argument --FLAG: MESSAGE`` with exit status 2;
- pre-flight checks that need several options or the config together (output paths and
  ``--overwrite``, pairings of options, names in the config): the ``check_*`` functions,
  attached to a subcommand with ``set_defaults(check=...)`` and called by
  :func:`neurospell.cli.main` after the config is loaded. They raise :class:`UsageError`.

Every message names the flag, says what is allowed, echoes what was given and what to do.
Stage registries are imported only when a name has to be checked (the parser builds fast).

Modules, one concern each: :mod:`._usage` (:class:`UsageError`, :func:`number`),
:mod:`._paths` (input and output paths), :mod:`._names` (language models, decoders, board
specs), :mod:`._preflight` (checks shared by several commands), :mod:`._checks` (the
per-command ``check_*``). Commands import them all from here as ``_args.NAME``.
"""

from __future__ import annotations

from ._checks import (
    EXPORT_SUFFIXES,
    check_demo,
    check_evaluate,
    check_inspect,
    check_lm_build_ngram,
    check_lm_build_word,
    check_lm_corpus,
    check_lm_eval,
    check_lm_heldout,
    check_lm_predict,
    check_lm_train,
    check_record,
    check_replay,
    check_replay_fmt,
    check_replay_session,
    check_stream,
    check_train,
    record_outputs,
)
from ._names import (
    LM_FILE_SUFFIXES,
    board_spec,
    board_spec_problem,
    check_decoder_name,
    lm_name,
    lm_name_or_file,
    lm_name_problem,
    named_text_file,
)
from ._paths import (
    RAWLOG_SUFFIX,
    SESSION_MARKER,
    check_output_file,
    check_output_folder,
    expand_recordings,
    input_file,
    input_folder,
    is_session_folder,
    model_file,
    name_length_problem,
    recording_file,
    text_file,
)
from ._preflight import (
    check_config,
    check_lm_choice,
    check_model_matches_recording,
    config_source,
    is_name_too_long,
    with_lm_path,
)
from ._usage import UsageError, number

__all__ = [
    "UsageError", "number", "input_file", "input_folder", "text_file", "recording_file",
    "model_file", "lm_name", "check_decoder_name", "board_spec", "check_output_file",
    "check_output_folder", "check_config", "check_lm_choice",
]

#: Also importable from here (``_args.NAME``), as the commands use them.
__all__ += [
    "EXPORT_SUFFIXES", "RAWLOG_SUFFIX", "SESSION_MARKER", "LM_FILE_SUFFIXES", "name_length_problem",
    "is_session_folder", "expand_recordings", "lm_name_problem", "lm_name_or_file", "named_text_file", "board_spec_problem",
    "config_source", "with_lm_path", "is_name_too_long", "check_model_matches_recording",
    "record_outputs", "check_stream", "check_record", "check_train", "check_evaluate", "check_replay",
    "check_inspect", "check_replay_session", "check_replay_fmt", "check_demo", "check_lm_eval",
    "check_lm_predict", "check_lm_train", "check_lm_build_ngram", "check_lm_build_word",
    "check_lm_corpus", "check_lm_heldout",
]
