"""EEGNet (Lawhern et al. 2018), the compact convolutional network for EEG.

Lawhern, V. J. et al. (2018). EEGNet: a compact convolutional neural network for
EEG-based brain-computer interfaces. Journal of Neural Engineering 15, 056013.
This is EEGNet-8,2 (F1 = 8 temporal filters, D = 2 spatial filters each, F2 = 16), with the
temporal kernel at half a second and the pooling sizes of the paper (at 128 Hz), scaled with
the sampling rate so the same receptive fields in seconds hold at any rate.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EEGNet"]


class _MaxNorm:
    """Mixin: renormalise each output unit's weights to ``max_norm`` before a training step."""

    def __init__(self, *args, max_norm: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_norm = max_norm

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                self.weight.data = torch.renorm(self.weight.data, p=2, dim=0, maxnorm=self.max_norm)
        return super().forward(x)


class _MaxNormLinear(_MaxNorm, nn.Linear):
    def __init__(self, *args, max_norm: float = 0.25, **kwargs):
        super().__init__(*args, max_norm=max_norm, **kwargs)


class _MaxNormConv2d(_MaxNorm, nn.Conv2d):
    def __init__(self, *args, max_norm: float = 1.0, **kwargs):
        super().__init__(*args, max_norm=max_norm, **kwargs)


def _odd(n: float) -> int:
    n = max(1, int(round(n)))
    return n if n % 2 else n + 1


class EEGNet(nn.Module):
    """EEGNet-8,2 with one output logit (target vs non-target).

    Parameters
    ----------
    n_chans : int
        Number of EEG channels.
    n_times : int
        Samples per epoch (after any decimation).
    sfreq : float
        Sampling rate of the input in Hz; sets the kernel and pooling sizes.
    F1, D, F2 : int
        Temporal filters, spatial filters per temporal filter, separable filters.
    dropout : float
        Dropout probability (0.5 within subject in the paper, 0.25 across subjects).

    Input shape ``(batch, n_chans, n_times)``; output shape ``(batch,)`` (logits).
    """

    def __init__(self, n_chans: int, n_times: int, sfreq: float, F1: int = 8, D: int = 2,
                 F2: int = 16, dropout: float = 0.5):
        super().__init__()
        scale = sfreq / 128.0
        k1 = _odd(64 * scale)  # half a second
        k2 = _odd(16 * scale)
        p1 = max(1, int(round(4 * scale)))
        p2 = max(1, int(round(8 * scale)))
        self.block1 = nn.Sequential(
            nn.Conv2d(1, F1, (1, k1), padding=(0, k1 // 2), bias=False),
            nn.BatchNorm2d(F1),
            _MaxNormConv2d(F1, F1 * D, (n_chans, 1), groups=F1, bias=False, max_norm=1.0),
            nn.BatchNorm2d(F1 * D),
            nn.ELU(),
            nn.AvgPool2d((1, p1)),
            nn.Dropout(dropout),
        )
        self.block2 = nn.Sequential(
            nn.Conv2d(F1 * D, F1 * D, (1, k2), padding=(0, k2 // 2), groups=F1 * D, bias=False),
            nn.Conv2d(F1 * D, F2, 1, bias=False),
            nn.BatchNorm2d(F2),
            nn.ELU(),
            nn.AvgPool2d((1, p2)),
            nn.Dropout(dropout),
        )
        n_out = (n_times // p1) // p2
        if n_out < 1:
            raise ValueError(
                f"EEGNet: n_times={n_times} samples at {sfreq} Hz is too short for its pooling "
                f"({p1 * p2} samples); use a longer epoch window."
            )
        self.classifier = _MaxNormLinear(F2 * n_out, 1, max_norm=0.25)

    def forward(self, x):
        x = self.block2(self.block1(x.unsqueeze(1)))
        return self.classifier(x.flatten(1)).squeeze(1)
