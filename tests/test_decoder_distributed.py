"""Distributed training: 2 CPU processes (Gloo, DistributedDataParallel) train like one."""

import json
import os
import subprocess
import sys

import pytest

from neurospell.session.evaluation import save_batch
from neurospell.session.simulator import synthetic_erp_epochs


def _run(tmp_path, nproc, train, test):
    out, report = tmp_path / f"m{nproc}.pt", tmp_path / f"r{nproc}.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "neurospell.session.train", str(train),
           "--decoder", "eegnet", "--out", str(out), "--test", str(test), "--report", str(report),
           "--max-epochs", "20", "--patience", "20", "--n-folds", "1", "--batch-size", "32",
           "--learning-rate", "0.003", "--device", "cpu", "--no-progress"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert out.exists()
    return json.loads(report.read_text())


@pytest.mark.slow
def test_two_gloo_processes_match_one(tmp_path):
    kw = dict(sfreq=64.0, amplitude=6e-6, noise=10e-6)
    train, test = tmp_path / "train.npz", tmp_path / "test.npz"
    # 8 characters: 6 to train on, 1 for early stopping, 1 for the score calibration
    save_batch(synthetic_erp_epochs(8, 4, rng=0, **kw), train)
    save_batch(synthetic_erp_epochs(3, 4, rng=1, **kw), test)
    one = _run(tmp_path, 1, train, test)
    two = _run(tmp_path, 2, train, test)
    assert one["world_size"] == 1 and two["world_size"] == 2
    # Same global batches and averaged gradients; only dropout/augmentation draws and
    # per-process BatchNorm statistics differ, so quality must agree closely.
    assert one["test_auc"] >= 0.9 and two["test_auc"] >= 0.9, (one, two)
    assert abs(one["test_auc"] - two["test_auc"]) <= 0.05, (one, two)
