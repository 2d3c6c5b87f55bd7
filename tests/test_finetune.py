"""Fine-tuning a pretrained neural decoder on a new participant's few labels (decoder/finetune.py).

Real data: an EEGNet pretrained (briefly) on g.tec participants S2 and S3 pooled and aligned,
fine-tuned on S1's first two characters. Skipped, saying why, without the shared recordings.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurospell.check import NeurospellError, ProvenanceError, shared_data_dir
from neurospell.decoder import fine_tune, load_decoder, make_decoder
from neurospell.decoder.alignment import alignment_matrix
from neurospell.decoder.finetune import weights_sha256
from neurospell.fileio import file_sha256
from neurospell.types import EpochBatch

_PRE = dict(max_epochs=2, patience=2, n_folds=1, refit_outer=False, progress=False, device="cpu",
            learning_rate=3e-3)


@pytest.fixture(scope="module")
def data():
    root = shared_data_dir()
    files = [root / "gtec_p300" / f"S{i}.mat" for i in (1, 2, 3)] if root is not None else []
    if not files or not all(f.is_file() for f in files):
        pytest.skip("fine-tuning test needs the shared g.tec recordings gtec_p300/S1-S3.mat: set "
                    "NEUROSPELL_SHARED_DATA to the shared data folder (../shared/data)")
    from neurospell.session.evaluation import load_epochs

    s1 = load_epochs([files[0]])
    others = load_epochs(files[1:])  # pooled, recording ids 0 and 1: the pretraining aligns each
    # a short cut: the first 3 characters of each pretraining participant
    keep = np.zeros(len(others), bool)
    for r in np.unique(others.recording):
        m = others.recording == r
        keep |= m & np.isin(others.trials, np.unique(others.trials[m])[:3])
    others = others.subset(keep)
    chars = np.unique(s1.trials)
    return others, s1, s1.subset(np.isin(s1.trials, chars[:2])), s1.subset(np.isin(s1.trials, chars[2:]))


@pytest.fixture(scope="module")
def pretrained(data, tmp_path_factory):
    others = data[0]
    dec = make_decoder("eegnet", **_PRE).fit(others)
    assert dec.aligns  # two recordings: Euclidean alignment of each
    path = tmp_path_factory.mktemp("pre") / "pretrained.pt"
    dec.save(path)
    return dec, path


def _weights(dec):
    return [{k: v.numpy().copy() for k, v in s.items()} for s in dec.states_]


def test_fine_tuning_starts_from_the_pretrained_weights_and_moves_them(data, pretrained, tmp_path):
    _, s1, few, rest = data
    pre, path = pretrained
    before = weights_sha256(pre)
    # no pass: exactly the pretrained networks, aligned on S1's own epochs (no labels)
    zero = fine_tune(path, few, n_epochs=0, unlabelled=s1, calibration_folds=2)
    for a, b in zip(_weights(zero), _weights(pre), strict=True):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    fresh = make_decoder("eegnet", **_PRE)
    fresh.n_chans_, fresh.n_times_model_, fresh.model_sfreq_ = pre.n_chans_, pre.n_times_model_, pre.model_sfreq_
    import torch

    torch.manual_seed(0)
    init = fresh._new_module().state_dict()
    assert not np.allclose(init["block1.0.weight"].numpy(), _weights(zero)[0]["block1.0.weight"])
    shuffled = EpochBatch(s1.data, s1.codes, s1.onsets, s1.tmin, s1.sfreq, s1.ch_names,
                          np.random.default_rng(0).permutation(s1.targets), s1.trials)
    np.testing.assert_allclose(zero.alignment_target_, alignment_matrix(shuffled.data, "euclidean"))
    np.testing.assert_allclose(zero.decision_function(rest),
                               pre.align_to(s1).decision_function(rest), rtol=1e-5, atol=1e-6)

    tuned = fine_tune(path, few, n_epochs=4, learning_rate=1e-3, unlabelled=s1, calibration_folds=2)
    changed = [k for k in _weights(pre)[0] if not np.array_equal(_weights(pre)[0][k], _weights(tuned)[0][k])]
    assert "classifier.weight" in changed and "block1.0.weight" in changed
    assert not np.allclose(tuned.decision_function(rest), zero.decision_function(rest))
    assert np.isfinite(tuned.heldout_auc_) and tuned.score_model_ is not None
    assert weights_sha256(pre) == before  # the pretrained model is untouched

    # freezing the early block keeps its weights, trains the rest; calibration_folds=0 keeps
    # the pretrained score model (one fine-tuning, no held-out scores)
    frozen = fine_tune(pre, few, n_epochs=2, learning_rate=1e-3, freeze="early", calibration_folds=0)
    assert frozen.score_model_.to_dict() == pre.score_model_.to_dict()
    assert frozen.heldout_auc_ == pre.heldout_auc_
    assert "kept" in frozen.provenance_["training"]["calibration"]["scheme"]
    w0, w1 = _weights(pre)[0], _weights(frozen)[0]
    np.testing.assert_array_equal(w0["block1.0.weight"], w1["block1.0.weight"])
    np.testing.assert_array_equal(w0["block1.2.weight"], w1["block1.2.weight"])
    assert not np.array_equal(w0["classifier.weight"], w1["classifier.weight"])

    # saved and loaded with provenance naming the pretrained model
    out = tmp_path / "tuned.pt"
    tuned.save(out)
    loaded = load_decoder(out, batch=rest)
    np.testing.assert_array_equal(loaded.decision_function(rest), tuned.decision_function(rest))
    ft = loaded.provenance_["fine_tuning"]
    assert ft["pretrained"]["file_sha256"] == file_sha256(path)
    assert ft["pretrained"]["weights_sha256"] == before
    assert ft["n_epochs"] == 4 and ft["freeze"] == "none"
    assert loaded.provenance_["training"]["n_epochs"] == len(few)
    assert frozen.provenance_["fine_tuning"]["pretrained"].get("file_sha256") is None


def test_bad_init_from_is_a_clear_error(data, pretrained, tmp_path):
    others, s1, few, _ = data
    pre, _ = pretrained
    with pytest.raises(NeurospellError, match="init_from: the pretrained model file .* does not exist"):
        fine_tune(tmp_path / "missing.pt", few)
    lda = make_decoder("lda").fit(few)
    with pytest.raises(NeurospellError, match="init_from must be a fitted neural decoder.*got 'lda'"):
        fine_tune(lda, few)
    lda.save(tmp_path / "lda.pt")
    with pytest.raises(NeurospellError, match="classical model has no network weights"):
        fine_tune(tmp_path / "lda.pt", few)
    with pytest.raises(NeurospellError, match="not fitted"):
        fine_tune(make_decoder("eegnet"), few)
    renamed = EpochBatch(few.data, few.codes, few.onsets, few.tmin, few.sfreq,
                         tuple(reversed(few.ch_names)), few.targets, few.trials)
    with pytest.raises(ProvenanceError, match="init_from: the pretrained eegnet model cannot be fine-tuned.*channels"):
        fine_tune(pre, renamed)
    other_rate = EpochBatch(few.data, few.codes, few.onsets, few.tmin, 2 * few.sfreq, few.ch_names,
                            few.targets, few.trials)
    with pytest.raises(ProvenanceError, match="sampling rate"):
        fine_tune(pre, other_rate)
    with pytest.raises(NeurospellError, match="freeze"):
        fine_tune(pre, few, freeze="all")
    with pytest.raises(NeurospellError, match="n_epochs must be an integer >= 0"):
        fine_tune(pre, few, n_epochs=-1)
    with pytest.raises(NeurospellError, match="calibration_folds must be an integer >= 0 other than 1, got 1"):
        fine_tune(pre, few, calibration_folds=1)
    with pytest.raises(NeurospellError, match="learning_rate must be a positive number"):
        fine_tune(pre, few, learning_rate=0)
    with pytest.raises(NeurospellError, match="no targets"):
        fine_tune(pre, EpochBatch(few.data, few.codes, few.onsets, few.tmin, few.sfreq, few.ch_names))
