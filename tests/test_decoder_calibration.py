"""Honest calibration on real EEG (g.tec S1-S3): the scores that fit a decoder's score model
come only from characters the scoring model never saw (neither for training nor for early
stopping), the deployed model is the one those scores describe, and its posteriors are
calibrated on characters it never saw. Plus the unit guard and training-file provenance."""

import pickle
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from neurospell.check import NeurospellError, ProvenanceError
from neurospell.config import PreprocessConfig
from neurospell.decoder import load_decoder, make_decoder, roc_auc, training_overlap
from neurospell.decoder.likelihood import ScoreModel
from neurospell.session.evaluation import load_epochs, split_by_trials

PREP = PreprocessConfig()
# small, fast settings (the real training is in the benchmarks); 4 folds over 4 characters:
# each network trains on 2 characters, stops early on 1 and scores the 4th. XdawnTSNet starts
# from the tangent-space logistic regression, so a few epochs give a realistic decoder.
_NET = dict(max_epochs=3, patience=2, n_folds=4, progress=False, device="cpu", seed=0)
_EEGNET = dict(max_epochs=2, patience=2, n_folds=4, progress=False, device="cpu", seed=0)


@pytest.fixture(scope="module")
def subjects(gtec_files):
    return [load_epochs([f], PREP) for f in gtec_files[:3]]


def _posterior(dec, scores):
    """P(target | score) from the decoder's score model (likelihood ratio and prior)."""
    sm = dec.score_model_
    logit = sm.llr(scores) + np.log(sm.prior_ / (1.0 - sm.prior_))
    return 1.0 / (1.0 + np.exp(-logit))


def _log_loss(p, y):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return float(-np.mean(np.where(y, np.log(p), np.log(1.0 - p))))


def _calibration_slope(p, y):
    """Slope of the logistic regression of outcomes on predicted log-odds (1: calibrated)."""
    from sklearn.linear_model import LogisticRegression

    z = np.log(p / (1.0 - p))[:, None]
    return float(LogisticRegression(C=1e6).fit(z, y).coef_[0, 0])


def _check_split(dec, train_chars, scored_chars=None):
    """The recorded split: scored characters are disjoint from the scoring model's training
    and early-stopping characters, and together (with cross-validation) they are every
    training character."""
    cal = dec.provenance_["training"]["calibration"]
    assert cal["unit"] == "character"
    scored = set()
    for fold in cal["folds"]:
        held, fit_on, stop_on = set(fold["heldout"]), set(fold["train"]), set(fold["early_stopping"])
        assert held and fit_on, fold
        assert not held & fit_on and not held & stop_on and not fit_on & stop_on, fold
        assert held | fit_on | stop_on == set(train_chars), fold
        scored |= held
    expected = set(train_chars if scored_chars is None else scored_chars)
    assert scored == set(cal["scored_characters"]) == expected
    return cal


def test_neural_nested_split_and_calibration_on_unseen_characters(subjects):
    s1 = subjects[0]
    train, test = split_by_trials(s1, [0, 1, 2, 3])
    dec = make_decoder("xdawnts-net", **_NET).fit(train, PREP)
    cal = _check_split(dec, [0, 1, 2, 3])
    # every fold network early-stopped on its own inner characters (one each here)
    assert [len(f["early_stopping"]) for f in cal["folds"]] == [1, 1, 1, 1]
    assert all(len(f["heldout"]) == 1 for f in cal["folds"])
    # the deployed model is the ensemble of exactly the networks whose scores were used:
    # per outer fold, the inner split chose the epoch count, then a network retrained on
    # all non-fold characters (inner training + early stopping) for that count scored it
    assert len(dec.states_) == len(cal["folds"]) == 4
    assert [h["stage"] for h in dec.history_] == [
        s for k in range(1, 5) for s in (f"fold {k}/4", f"fold {k}/4 refit")]
    assert "deployed model: the retrained fold networks' ensemble" in cal["scheme"]
    for fold, inner, refit in zip(cal["folds"], dec.history_[::2], dec.history_[1::2],
                                  strict=True):
        assert fold["scored_by"] == "refit"
        assert fold["refit"] == sorted(fold["train"] + fold["early_stopping"])
        assert not set(fold["refit"]) & set(fold["heldout"])
        assert fold["epochs_chosen"] == inner["best_epoch"] == fold["epochs_trained"]
        assert refit["epochs"] == fold["epochs_trained"] and refit["best_val_auc"] is None

    # the reported AUC is the outer folds' one: recompute it from the fold networks
    Xp, _ = dec._prepare(train.data, dec.scale_)
    outer = np.full(len(train), np.nan)
    for state, fold in zip(dec.states_, cal["folds"], strict=True):
        m = np.isin(train.trials, fold["heldout"])
        net = dec._new_module()
        net.load_state_dict(state)
        outer[m] = dec._predict_net(net, torch.from_numpy(Xp[m]))
    assert np.all(np.isfinite(outer))
    assert dec.heldout_auc_ == pytest.approx(roc_auc(train.targets, outer), abs=1e-6)
    refit = ScoreModel(dec.score_kind).fit(outer, train.targets)
    np.testing.assert_allclose(refit.mean_, dec.score_model_.mean_, rtol=1e-5, atol=1e-6)

    # calibration on the unseen 5th character: much better than the prior alone, and not
    # over-confident: regressing the outcome on the model's log-odds gives a slope >= 1
    # (measured 1.31; an over-confident model has a slope below 1)
    scores = dec.decision_function(test)
    p, y = _posterior(dec, scores), np.asarray(test.targets, bool)
    prior_only = _log_loss(np.full(len(y), y.mean()), y)
    assert roc_auc(y, scores) > 0.9
    assert _log_loss(p, y) < 0.7 * prior_only, (_log_loss(p, y), prior_only)
    assert _calibration_slope(p, y) > 0.9


def test_refit_network_never_sees_its_fold(subjects, tmp_path):
    """Fold k's scoring (deployed) network depends only on the non-k characters: relabelling
    fold k's epochs leaves it bit-identical (seeded CPU training) and changes the others.
    Without ``refit_outer`` the early-stopped inner networks score and are deployed."""
    s1 = subjects[0]
    train = s1.subset(np.isin(s1.trials, [0, 1, 2]))
    params = {**_NET, "n_folds": 3}
    dec = make_decoder("xdawnts-net", **params).fit(train, PREP)
    folds = dec.provenance_["training"]["calibration"]["folds"]
    assert [f["refit"] for f in folds] == [[1, 2], [0, 2], [0, 1]]
    k = 1
    fold_k = np.isin(train.trials, folds[k]["heldout"])
    y = np.asarray(train.targets, bool).copy()
    y[fold_k] = np.random.default_rng(0).permutation(y[fold_k])
    assert not np.array_equal(y, train.targets)
    other = make_decoder("xdawnts-net", **params).fit(replace(train, targets=y), PREP)
    for j, (a, b) in enumerate(zip(dec.states_, other.states_, strict=True)):
        same = all(torch.equal(a[n], b[n]) for n in a)
        assert same == (j == k), j

    # the old nested scheme (no retraining) is still available: the deployed networks
    # are the early-stopped inner ones, the ones whose scores calibrated the model
    old = make_decoder("xdawnts-net", **{**params, "refit_outer": False}).fit(train, PREP)
    cal = old.provenance_["training"]["calibration"]
    assert "deployed model: the fold networks' ensemble" in cal["scheme"]
    assert all(f["scored_by"] == "early-stopped" and "refit" not in f for f in cal["folds"])
    assert [h["stage"] for h in old.history_] == [f"fold {k}/3" for k in range(1, 4)]
    with pytest.raises(NeurospellError, match="refit_outer must be True or False"):
        make_decoder("eegnet", **{**_EEGNET, "refit_outer": "yes"}).fit(train, PREP)

    # a model file saved before refit_outer existed (no such parameter) loads and scores
    fname = tmp_path / "old.pt"
    old.save(fname)
    with open(fname, "rb") as fid:
        payload = pickle.load(fid)
    del payload["params"]["refit_outer"]
    with open(fname, "wb") as fid:
        pickle.dump(payload, fid)
    loaded = load_decoder(fname)
    np.testing.assert_array_equal(loaded.decision_function(subjects[1]),
                                  old.decision_function(subjects[1]))


def test_nested_split_needs_enough_characters(subjects):
    s1 = subjects[0]
    two = s1.subset(np.isin(s1.trials, [0, 1]))
    with pytest.raises(NeurospellError, match="at least 3 characters"):
        make_decoder("eegnet", **_EEGNET).fit(two, PREP)
    three = s1.subset(np.isin(s1.trials, [0, 1, 2]))
    with pytest.raises(NeurospellError, match="--n-folds 3"):
        make_decoder("eegnet", **{**_EEGNET, "n_folds": 2}).fit(three, PREP)
    # one network (n_folds=1): train, early-stop and calibrate on three disjoint sets
    dec = make_decoder("eegnet", **{**_EEGNET, "n_folds": 1, "max_epochs": 2}).fit(three, PREP)
    cal = _check_split(dec, [0, 1, 2], scored_chars=[2])
    assert len(dec.states_) == 1 and cal["folds"][0]["early_stopping"] == [1]
    with pytest.raises(NeurospellError, match="refit='replace' is no longer supported"):
        make_decoder("xdawnts-net", refit="replace", progress=False).fit(three, PREP)


def test_classical_split_recorded_and_calibrated(subjects):
    s1 = subjects[0]
    train, test = split_by_trials(s1, [0, 1, 2, 3])
    dec = make_decoder("lda").fit(train, PREP)
    cal = _check_split(dec, [0, 1, 2, 3])
    assert all(f["early_stopping"] == [] for f in cal["folds"])  # nothing selected on them
    p, y = _posterior(dec, dec.decision_function(test)), np.asarray(test.targets, bool)
    assert _log_loss(p, y) < 0.7 * _log_loss(np.full(len(y), y.mean()), y)
    # measured 0.90 on this one character (30 targets); leave-one-character-out on S1-S3
    # gives 1.17: the model fitted on all characters is not over-confident
    assert _calibration_slope(p, y) > 0.8


def test_amplitude_guard_names_the_unit_mix_up(subjects, tmp_path):
    s1, s2, s3 = subjects
    dec = make_decoder("lda").fit(s1, PREP)
    amp = dec.provenance_["amplitude"]
    assert amp["unit"] == "V" and len(amp["median_abs"]) == len(amp["std"]) == s1.n_channels
    assert 1e-6 < np.median(amp["median_abs"]) < 1e-4  # EEG in volts
    # other participants, and single epochs (the online case), pass
    for other in (s2, s3):
        assert np.all(np.isfinite(dec.decision_function(other)))
        for i in range(0, len(other), 97):
            dec.decision_function(other.data[i : i + 1])
    for factor, unit in ((1e6, "microvolts"), (1e3, "millivolts")):
        with pytest.raises(ProvenanceError, match=f"probably in {unit} where volts are expected"):
            dec.decision_function(s2.data * factor)
        with pytest.raises(ProvenanceError, match=f"converted from {unit} to volts"):
            dec.predict_proba(s2.data / factor)
    with pytest.raises(ProvenanceError, match=r"about 1\.\de\+02 times .* no known unit factor"):
        dec.decision_function(s2.data * 200)
    # a model saved before the amplitude was recorded still loads and scores (no check)
    fname = tmp_path / "old.pt"
    dec.save(fname)
    old = load_decoder(fname)
    del old.provenance_["amplitude"]
    old.save(fname)
    old = load_decoder(fname)
    np.testing.assert_array_equal(old.decision_function(s2.data * 1e6),
                                  dec.pipeline_.decision_function(s2.data * 1e6))


def test_training_files_hashed_and_overlap_found(gtec_files, subjects, tmp_path):
    copy = tmp_path / "renamed.mat"
    shutil.copyfile(gtec_files[0], copy)
    dec = make_decoder("lda").fit(subjects[0], PREP, sources=[gtec_files[0]])
    files = dec.provenance_["training"]["files"]
    assert [f["name"] for f in files] == ["S1.mat"] and len(files[0]["sha256"]) == 64
    fname = tmp_path / "m.pt"
    dec.save(fname)
    loaded = load_decoder(fname)
    assert training_overlap(loaded, [gtec_files[1], copy, gtec_files[0]]) == [copy, gtec_files[0]]
    assert training_overlap(loaded, gtec_files[1:3]) == []
    # no sources given: nothing to compare, nothing reported
    assert training_overlap(make_decoder("lda").fit(subjects[1], PREP), gtec_files) == []
