"""neurospell.preprocessing: readers, offline (MNE) and online (causal) preprocessing.

- :func:`load_recording`: any supported file -> MNE ``Raw`` with speller annotations.
- :func:`epochs_from_raw`: ``Raw`` + :class:`~neurospell.config.PreprocessConfig` ->
  (``mne.Epochs``, :class:`~neurospell.types.EpochBatch`).
- :func:`causal_filter_raw`: the online filter applied offline.
- :class:`OnlineFilter`, :class:`OnlineEpocher`: the same processing, causal and stateful,
  on live sample chunks and marker events.
"""

from .filters import decimation_factor, design_sos, reference_matrix
from .offline import causal_filter_raw, epochs_from_raw, flash_table
from .online import OnlineEpocher, OnlineFilter
from .readers import SUPPORTED_FORMATS, gtec_to_raw, load_recording, split_trials

__all__ = [
    "load_recording",
    "SUPPORTED_FORMATS",
    "gtec_to_raw",
    "split_trials",
    "epochs_from_raw",
    "causal_filter_raw",
    "flash_table",
    "OnlineFilter",
    "OnlineEpocher",
    "design_sos",
    "decimation_factor",
    "reference_matrix",
]
