"""EEG-Inception (Santamaria-Vazquez et al. 2020), an inception network designed for ERP/P300.

Santamaria-Vazquez, E., Martinez-Cagigal, V., Vaquerizo-Villar, F., Hornero, R. (2020).
EEG-Inception: a novel deep convolutional neural network for assistive ERP-based
brain-computer interfaces. IEEE TNSRE 28(12), 2773-2782.
Three parallel temporal scales (500, 250, 125 ms) with depthwise spatial filters, a second
inception block at a quarter of those scales, then two output convolutions; pooling as in
the paper at 128 Hz, scaled with the sampling rate. One output logit.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["EEGInception"]


def _odd(n: float) -> int:
    n = max(1, int(round(n)))
    return n if n % 2 else n + 1


def _unit(cin, cout, k, dropout, groups=1, kernel=None):
    kernel = kernel or (1, k)
    return [
        nn.Conv2d(cin, cout, kernel, padding="same" if kernel[0] == 1 else 0, groups=groups,
                  bias=False),
        nn.BatchNorm2d(cout),
        nn.ELU(),
        nn.Dropout(dropout),
    ]


class EEGInception(nn.Module):
    """EEG-Inception with one output logit (target vs non-target).

    Parameters
    ----------
    n_chans : int
        Number of EEG channels.
    n_times : int
        Samples per epoch (after any decimation).
    sfreq : float
        Sampling rate of the input in Hz; sets the kernel and pooling sizes.
    n_filters : int
        Filters per branch (8 in the paper).
    scales_s : tuple of float
        Temporal kernel lengths of the first inception block, seconds.
    dropout : float
        Dropout probability (0.25 in the paper).

    Input shape ``(batch, n_chans, n_times)``; output shape ``(batch,)`` (logits).
    """

    def __init__(self, n_chans: int, n_times: int, sfreq: float, n_filters: int = 8,
                 scales_s: tuple = (0.5, 0.25, 0.125), dropout: float = 0.25):
        super().__init__()
        scale = sfreq / 128.0
        ks = [_odd(s * sfreq) for s in scales_s]
        self.branches1 = nn.ModuleList(
            nn.Sequential(
                *_unit(1, n_filters, k, dropout),
                *_unit(n_filters, 2 * n_filters, 0, dropout, groups=n_filters,
                       kernel=(n_chans, 1)),
            )
            for k in ks
        )
        c1 = 2 * n_filters * len(ks)
        p1, p2 = max(1, int(round(4 * scale))), max(1, int(round(2 * scale)))
        self.pool1 = nn.AvgPool2d((1, p1))
        self.branches2 = nn.ModuleList(
            nn.Sequential(*_unit(c1, n_filters, _odd(k / 4), dropout)) for k in ks
        )
        c2 = n_filters * len(ks)
        self.pool2 = nn.AvgPool2d((1, p2))
        self.out = nn.Sequential(
            *_unit(c2, c2 // 2, _odd(8 * scale), dropout),
            nn.AvgPool2d((1, p2)),
            *_unit(c2 // 2, c2 // 4, _odd(4 * scale), dropout),
            nn.AvgPool2d((1, p2)),
        )
        n_out = n_times // p1 // p2 // p2 // p2
        if n_out < 1:
            raise ValueError(
                f"EEGInception: n_times={n_times} samples at {sfreq} Hz is too short for its "
                f"pooling ({p1 * p2 ** 3} samples); use a longer epoch window."
            )
        self.classifier = nn.Linear((c2 // 4) * n_out, 1)

    def forward(self, x):
        x = x.unsqueeze(1)
        x = self.pool1(torch.cat([b(x) for b in self.branches1], dim=1))
        x = self.pool2(torch.cat([b(x) for b in self.branches2], dim=1))
        x = self.out(x)
        return self.classifier(x.flatten(1)).squeeze(1)
