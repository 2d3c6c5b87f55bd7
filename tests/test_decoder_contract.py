"""Contract tests run over every registered decoder (scikit-learn / braindecode style).

Every decoder trains on the same synthetic P300 (a known ERP at 300 ms in coloured noise)
and must: give valid probabilities, a real score per epoch, reach AUC >= 0.9 on unseen
characters, refit reproducibly, round-trip through save/load with identical outputs and
refuse a pipeline with other channels, sampling rate, window or filter band.
"""

import numpy as np
import pytest

from neurospell.check import NeurospellError, ProvenanceError
from neurospell.config import PreprocessConfig
from neurospell.decoder import DECODERS, load_decoder, make_decoder, roc_auc
from neurospell.session.simulator import synthetic_erp_epochs
from neurospell.types import EpochBatch, SpellerLayout

# Small, fast settings per registered decoder (the real training is in the benchmarks).
_NEURAL = dict(max_epochs=25, patience=5, n_folds=2, learning_rate=3e-3, progress=False,
               device="cpu")
CASES = {
    "eegnet": _NEURAL,
    "eeginception": _NEURAL,
    "xdawnts-net": _NEURAL,
    "lda": {},
    "xdawn-lda": {},
    "xdawncov-ts-lr": {},
}
PREP = PreprocessConfig(l_freq=0.5, h_freq=20.0)


@pytest.fixture(scope="module")
def data():
    # 64 Hz keeps the networks small and fast; 6 training characters x 4 repetitions x 12 flashes.
    kw = dict(sfreq=64.0, amplitude=6e-6, noise=10e-6)
    return synthetic_erp_epochs(6, 4, rng=0, **kw), synthetic_erp_epochs(3, 4, rng=1, **kw)


_FITTED = {}


@pytest.fixture(scope="module")
def fitted(data):
    def get(name):
        if name not in _FITTED:
            _FITTED[name] = make_decoder(name, **CASES[name]).fit(data[0], PREP)
        return _FITTED[name]

    return get


def test_every_registered_decoder_has_a_test_case():
    assert set(CASES) == set(DECODERS), (
        f"decoders without a contract test case: {sorted(set(DECODERS) - set(CASES))}; "
        f"cases for unregistered decoders: {sorted(set(CASES) - set(DECODERS))}"
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_probabilities_scores_and_synthetic_auc(name, data, fitted):
    dec = fitted(name)
    _, test = data
    proba = dec.predict_proba(test)
    assert proba.shape == (len(test), 2)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    scores = dec.decision_function(test)
    assert scores.shape == (len(test),) and np.all(np.isfinite(scores))
    # P(target) is a non-decreasing function of the score (same ranking)
    order = np.argsort(scores, kind="stable")
    assert np.all(np.diff(proba[order, 1]) >= -1e-9)
    auc = roc_auc(test.targets, scores)
    assert auc >= 0.9, f"{name}: AUC {auc:.3f} on a clear synthetic P300"
    # learned state ends in "_", parameters are what __init__ stored
    assert dec.get_params() == {**make_decoder(name).get_params(), **CASES[name]}
    for attr in ("score_model_", "provenance_", "heldout_auc_"):
        assert hasattr(dec, attr)
    assert 0.5 < dec.heldout_auc_ <= 1.0
    assert dec.score_model_.mean_[1] > dec.score_model_.mean_[0]
    assert not hasattr(make_decoder(name), "provenance_")
    # flash -> character: the calibrated evidence spells the test characters
    layout = SpellerLayout.row_column()
    n_right = 0
    for trial in np.unique(test.trials):
        m = test.trials == trial
        ev = dec.char_evidence(layout)
        ev.add_codes(test.codes[m], scores[m])
        hit = set(test.codes[m][test.targets[m]] - 1)  # the attended row and column
        truth = [c for c in layout.symbols if set(layout.groups_containing(c)) == hit]
        assert ev.n_repetitions == 4 and len(truth) == 1
        n_right += ev.distribution().argmax() == truth[0]
    assert n_right >= 2, f"{name}: {n_right} of 3 characters right after 4 repetitions"


@pytest.mark.parametrize("name", sorted(CASES))
def test_refit_is_reproducible(name, data, fitted):
    dec = fitted(name)
    train, test = data
    again = dec.clone().fit(train, PREP)
    np.testing.assert_array_equal(again.decision_function(test), dec.decision_function(test))
    # refitting on other data changes the model (and it still works)
    other = dec.clone()
    if "n_folds" in other.get_params():  # 3 characters: each network needs 2 besides its fold
        other.set_params(n_folds=3)
    other.fit(test, PREP)
    assert not np.array_equal(other.decision_function(train), dec.decision_function(train))


@pytest.mark.parametrize("name", sorted(CASES))
def test_save_load_round_trip_and_provenance(name, data, fitted, tmp_path):
    dec = fitted(name)
    _, test = data
    fname = tmp_path / f"{name}.pt"
    dec.save(fname)
    loaded = load_decoder(fname, batch=test, preprocess=PREP)
    assert type(loaded) is type(dec)
    np.testing.assert_array_equal(loaded.decision_function(test), dec.decision_function(test))
    np.testing.assert_array_equal(loaded.predict_proba(test), dec.predict_proba(test))
    assert loaded.score_model_.to_dict() == dec.score_model_.to_dict()
    prov = loaded.provenance_
    assert prov["ch_names"] == list(test.ch_names) and prov["sfreq"] == 64.0
    assert prov["preprocessing"]["h_freq"] == 20.0 and prov["training"]["n_epochs"] == 288
    assert "numpy" in prov["versions"] and "torch" in prov["versions"]

    # other channel names (or order)
    renamed = EpochBatch(test.data, test.codes, test.onsets, test.tmin, test.sfreq,
                         tuple(reversed(test.ch_names)), test.targets, test.trials)
    with pytest.raises(ProvenanceError, match="channels"):
        load_decoder(fname, batch=renamed)
    with pytest.raises(ProvenanceError, match="channels"):
        loaded.decision_function(renamed)
    # other sampling rate
    resampled = EpochBatch(test.data, test.codes, test.onsets, test.tmin, 128.0, test.ch_names)
    with pytest.raises(ProvenanceError, match="sampling rate"):
        loaded.predict_proba(resampled)
    # other filter band / window in the pipeline's config
    with pytest.raises(ProvenanceError, match="h_freq: model 20.0 vs pipeline 30.0"):
        load_decoder(fname, preprocess=PreprocessConfig(h_freq=30.0))
    with pytest.raises(ProvenanceError, match="tmax"):
        load_decoder(fname, preprocess=PreprocessConfig(tmax=1.0))
    # a plain array of the wrong shape
    with pytest.raises(ProvenanceError, match="shape"):
        loaded.decision_function(test.data[:, :4])


def test_errors_are_clear(data, tmp_path):
    train, _ = data
    with pytest.raises(NeurospellError, match="Allowed values are 'eegnet'"):
        make_decoder("svm")
    with pytest.raises(NeurospellError, match="Invalid parameter"):
        make_decoder("lda", n_filters=3)
    with pytest.raises(NeurospellError, match="not fitted"):
        make_decoder("lda").decision_function(train)
    unlabelled = EpochBatch(train.data, train.codes, train.onsets, train.tmin, train.sfreq,
                            train.ch_names)
    with pytest.raises(NeurospellError, match="no targets"):
        make_decoder("lda").fit(unlabelled)
    with pytest.raises(NeurospellError, match="architecture"):
        make_decoder("eegnet", architecture="resnet", progress=False).fit(train)
    with pytest.raises(NeurospellError, match="max_epochs"):
        make_decoder("eegnet", max_epochs=0, progress=False).fit(train)
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(NeurospellError, match="not a neurospell decoder"):
        load_decoder(bad)
    with pytest.raises(FileNotFoundError):
        load_decoder(tmp_path / "missing.pt")
