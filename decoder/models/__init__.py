"""Neural network architectures, one file each; every one takes ``(n_chans, n_times, sfreq)``.

Each maps ``(batch, n_chans, n_times)`` float tensors to ``(batch,)`` target logits.
"""

import torch  # noqa: F401  (every architecture is a torch module: importing this package imports torch)

from .eeginception import EEGInception
from .eegnet import EEGNet
from .xdawntsnet import XdawnTSNet

#: name -> module class (all share the signal parameters ``n_chans, n_times, sfreq``).
ARCHITECTURES = {"eegnet": EEGNet, "eeginception": EEGInception, "xdawntsnet": XdawnTSNet}

__all__ = ["ARCHITECTURES", "EEGNet", "EEGInception", "XdawnTSNet"]
