"""Held-out calibration AUC of the parametric simulated participant, offline.

Generates the EEG a live session's calibration collects (``neurospell spell``'s default
calibration text, ``[speller] calibration_repetitions`` repetitions of the row/column flashes,
``soa``, ``inter_trial``), with the participant's own generator
(:class:`neurospell.session.simulator.ParametricGenerator`, the one
``simulate-participant`` streams over LSL), epochs it with the causal ``[preprocessing]``
path the online epocher reproduces, fits a decoder and prints its held-out AUC (the figure a
live session reports after training) and fit time. ``--real`` does the same on the first
calibration-sized part of real recordings (the g.tec files in ``../shared/data/gtec_p300/``).

    python benchmarks/participant_auc.py --amplitudes 5 8 10 12 --seeds 0 1 2 3 4
    python benchmarks/participant_auc.py --real ../shared/data/gtec_p300/S*.mat
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neurospell.config import load_config
from neurospell.decoder import make_decoder
from neurospell.markers import flash_to_annotation, trial_to_annotation
from neurospell.session.engine import RowColumnFlashes
from neurospell.session.simulator import ParametricGenerator, ScheduledFlash
from neurospell.session.train import decoder_params

CALIBRATION = "THE QUICK FOX"  # neurospell.commands.spell.DEFAULT_CALIBRATION
WARMUP = 1.5  # neurospell.session.live.calibration.WARMUP


def calibration_raw(generator, text, config, seed=0):
    """The Raw (with flash and trial annotations) of a live calibration on ``text``."""
    import mne

    sp = config.speller
    layout = sp.layout()
    sf = generator.sfreq
    strategy = RowColumnFlashes(layout.n_groups, seed)
    t = 1.0
    flashes, ann_on, ann_desc = [], [], []
    for i, sym in enumerate(text):
        t += max(sp.inter_trial, WARMUP if i == 0 else 0.0)
        ann_on.append(t - 0.01)
        ann_desc.append(trial_to_annotation(i + 1, sym))
        wanted = set(layout.groups_containing(sym))
        for _ in range(sp.calibration_repetitions):
            for g in strategy.next_repetition():
                tgt = g in wanted
                flashes.append(ScheduledFlash(t * sf, g + 1, tgt, True))
                ann_on.append(t)
                ann_desc.append(flash_to_annotation(g + 1, tgt))
                t += sp.soa
    n = int((t + 2.0) * sf)
    data = generator.synthesize(0, n, flashes)
    info = mne.create_info(list(generator.ch_names), sf, "eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_annotations(mne.Annotations(ann_on, 0.0, ann_desc))
    return raw


def heldout_auc(batch, name, config):
    params = decoder_params(name, config.decoder)
    if "progress" in type(make_decoder(name))._param_names():
        params["progress"] = False
    t0 = time.perf_counter()
    dec = make_decoder(name, **params).fit(batch, config.preprocessing)
    return float(dec.heldout_auc_), time.perf_counter() - t0


def main(argv=None):
    from neurospell.preprocessing import epochs_from_raw, load_recording

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--amplitudes", type=float, nargs="*", default=[])
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--decoders", nargs="+", default=["xdawncov-ts-lr"])
    p.add_argument("--real", nargs="*", default=[], help="recordings: AUC on their first calibration-sized part")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    config = load_config(None)
    sp = config.speller
    n_cal = len(CALIBRATION) * sp.calibration_repetitions * sp.layout().n_groups
    for name in args.decoders:
        for amp in args.amplitudes:
            aucs, secs = [], []
            for seed in args.seeds:
                raw = calibration_raw(ParametricGenerator(amplitude=amp, seed=seed), CALIBRATION, config, seed)
                _, batch = epochs_from_raw(raw, config.preprocessing)
                a, s = heldout_auc(batch, name, config)
                aucs.append(a)
                secs.append(s)
                print(f"  {name} amplitude {amp:g} seed {seed}: {len(batch)} epochs, AUC {a:.3f}, fit {s:.1f} s",
                      flush=True)
            print(f"{name} amplitude {amp:g} uV: AUC mean {np.mean(aucs):.3f} (min {np.min(aucs):.3f}, max "
                  f"{np.max(aucs):.3f}, {len(aucs)} seeds), fit {np.mean(secs):.1f} s", flush=True)
        for path in args.real:
            raw = load_recording(path)
            _, batch = epochs_from_raw(raw, config.preprocessing)
            batch = batch.subset(np.arange(min(n_cal, len(batch))))
            a, s = heldout_auc(batch, name, config)
            print(f"{name} {path}: first {len(batch)} epochs, AUC {a:.3f}, fit {s:.1f} s", flush=True)


if __name__ == "__main__":
    main()
