"""Per-recording unsupervised alignment (issue 20, item 2): decoder/alignment.py.

Real recordings (the g.tec files) for the transfer checks; a session-to-session shift is
simulated by mixing one recording's channels with a random matrix (what moving electrodes or
another amplifier does to the signals), which the alignment must undo without any label.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurospell.decoder import load_decoder, make_decoder
from neurospell.decoder.alignment import (
    align_recordings,
    alignment_matrix,
    epoch_covariances,
    mean_riemann,
)
from neurospell.session.evaluation import auc, load_epochs
from neurospell.session.pooling import aligned_scores
from neurospell.types import EpochBatch


def _epochs(rng, n=60, c=6, t=100, mix=None):
    X = rng.standard_normal((n, c, t))
    if mix is not None:
        X = np.einsum("cd,ndt->nct", mix, X)
    return X


def test_riemannian_mean_matches_pyriemann():
    from pyriemann.geometry.mean import mean_riemann as pr_mean

    rng = np.random.default_rng(0)
    C = epoch_covariances(_epochs(rng, mix=rng.standard_normal((6, 6)) + 3 * np.eye(6)))
    np.testing.assert_allclose(mean_riemann(C), pr_mean(C), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("method", ["riemann", "euclidean"])
def test_recentering_makes_each_recordings_mean_covariance_the_identity(method):
    rng = np.random.default_rng(1)
    # two recordings with very different spatial covariances (mixings and scales)
    X = np.concatenate([_epochs(rng, mix=rng.standard_normal((6, 6)) + 2 * np.eye(6)),
                        _epochs(rng, mix=50.0 * np.diag(rng.uniform(0.2, 3.0, 6)))])
    rec = np.repeat([0, 1], 60)
    Xa, mats = align_recordings(X, rec, method)
    assert set(mats) == {0, 1}
    for r in (0, 1):
        C = epoch_covariances(Xa[rec == r])
        M = mean_riemann(C) if method == "riemann" else C.mean(axis=0)
        np.testing.assert_allclose(M, np.eye(6), atol=1e-4)
        before = epoch_covariances(X[rec == r]).mean(axis=0)
        assert np.abs(before - np.eye(6)).max() > 0.5  # it was far from the identity


def test_alignment_reads_no_labels(gtec_files):
    b = load_epochs(gtec_files[:2])
    rng = np.random.default_rng(2)
    perm = EpochBatch(b.data, b.codes, b.onsets, b.tmin, b.sfreq, b.ch_names,
                      rng.permutation(b.targets), b.trials, b.recording)
    X = np.asarray(b.data, np.float32)
    a1, _ = make_decoder("lda")._fit_alignment(b, X, None, True)
    a2, _ = make_decoder("lda")._fit_alignment(perm, X, None, True)
    np.testing.assert_array_equal(a1, a2)
    # and the reference of a recording to score does not depend on its labels either
    W1 = alignment_matrix(b.data[b.recording == 1], "riemann")
    W2 = alignment_matrix(perm.data[perm.recording == 1], "riemann")
    np.testing.assert_array_equal(W1, W2)


def _shifted(batch: EpochBatch, seed: int) -> EpochBatch:
    """The recording as another day's session: its channels mixed by a random matrix."""
    rng = np.random.default_rng(seed)
    A = np.eye(batch.n_channels) + 0.8 * rng.standard_normal((batch.n_channels,) * 2)
    A *= rng.uniform(0.3, 3.0, batch.n_channels)[:, None]
    X = np.einsum("cd,ndt->nct", A, batch.data.astype(np.float64))
    return EpochBatch(X, batch.codes, batch.onsets, batch.tmin, batch.sfreq, batch.ch_names,
                      batch.targets, batch.trials, batch.recording)


@pytest.mark.parametrize("name", ["xdawncov-ts-lr", "lda"])
def test_alignment_undoes_a_simulated_session_shift(gtec_files, name):
    first = [load_epochs([f]) for f in gtec_files[:2]]
    # two characters of each training recording keep the test short
    train = load_epochs(gtec_files[:2])
    train = train.subset(np.isin(train.trials, [0, 1, 5, 6]))
    assert set(np.unique(train.recording)) == {0, 1} and first[0].recording is None
    same = load_epochs([gtec_files[2]])
    test = _shifted(same, seed=3)
    pooled = make_decoder(name).fit(train, align=False)
    aligned = make_decoder(name).fit(train)  # several recordings: aligned by default
    assert not pooled.aligns and aligned.aligns
    assert aligned.provenance_["alignment"] == {"aligned": True, "n_recordings": 2, "labels_used": False,
                                                "method": aligned.alignment_method}
    a_pooled = auc(test.targets, pooled.decision_function(test))
    scores, notes = aligned_scores(aligned, test, ["S3_shifted"])
    a_aligned = auc(test.targets, scores)
    assert len(notes) == 1 and "S3_shifted" in notes[0] and "no labels" in notes[0]
    # the unshifted recording: what the shift costs each model
    a_pooled_same = auc(same.targets, pooled.decision_function(same))
    a_aligned_same = auc(same.targets, aligned_scores(aligned, same)[0])
    figures = dict(pooled=(a_pooled_same, a_pooled), aligned=(a_aligned_same, a_aligned))
    assert a_aligned > a_pooled + 0.04, figures
    # the alignment undoes most of the shift (up to a rotation, which it cannot see): the
    # shift costs the aligned model less than half of what it costs the pooled one
    assert a_pooled_same - a_pooled > 0.04, figures
    assert a_aligned_same - a_aligned < (a_pooled_same - a_pooled) / 2, figures


def test_aligned_model_refuses_to_score_before_aligning_and_round_trips(gtec_files, tmp_path):
    train = load_epochs(gtec_files[:2])
    train = train.subset(np.isin(train.trials, [0, 5]))
    dec = make_decoder("lda").fit(train)
    test = load_epochs([gtec_files[2]])
    with pytest.raises(ValueError, match="align_to"):
        dec.decision_function(test)
    s1 = dec.align_to(test, source="S3").decision_function(test)
    dec.save(tmp_path / "m.pt")
    back = load_decoder(tmp_path / "m.pt")
    assert back.aligns and "S3" in back.alignment_source_
    np.testing.assert_array_equal(back.decision_function(test), s1)
    # a single-recording model keeps today's behaviour: no alignment, no alignment state saved
    one = make_decoder("lda").fit(load_epochs([gtec_files[0]]))
    assert not one.aligns
    one.save(tmp_path / "one.pt")
    import pickle

    with open(tmp_path / "one.pt", "rb") as fid:
        assert "alignment" not in pickle.load(fid)
    with pytest.raises(ValueError, match="without alignment"):
        one.align_to(test)


def test_cli_evaluate_on_an_unseen_recording_says_it_aligned(gtec_files, tmp_path, capfd):
    from neurospell.cli import main

    model = tmp_path / "cross.pt"
    rc = main(["train", str(gtec_files[0]), str(gtec_files[1]), "--decoder", "lda", "--out", str(model)])
    out, err = capfd.readouterr()
    assert rc == 0, err
    assert "Aligned each of the 2 recording(s)" in out
    rc = main(["evaluate", str(model), str(gtec_files[2]), "--n-selections", "20", "--max-repetitions", "3"])
    out, err = capfd.readouterr()
    assert rc == 0, err
    assert f"Aligned the model on {gtec_files[2].name}'s 1200 unlabelled epochs" in out
    assert "no labels used" in out
    # --no-align: the model does not align, and evaluate says nothing about alignment
    rc = main(["train", str(gtec_files[0]), str(gtec_files[1]), "--decoder", "lda", "--no-align",
               "--out", str(tmp_path / "plain.pt")])
    out, _ = capfd.readouterr()
    assert rc == 0 and "Aligned" not in out
    rc = main(["evaluate", str(tmp_path / "plain.pt"), str(gtec_files[2]), "--n-selections", "20",
               "--max-repetitions", "3"])
    out, _ = capfd.readouterr()
    assert rc == 0 and "Aligned" not in out
    # one recording: no alignment unless asked (--align)
    for extra, aligned in (([], False), (["--align"], True)):
        one = tmp_path / f"one{len(extra)}.pt"
        rc = main(["train", str(gtec_files[0]), "--decoder", "lda", "--out", str(one), *extra])
        out, err = capfd.readouterr()
        assert rc == 0, err
        assert load_decoder(one).aligns is aligned and ("Aligned each of the 1" in out) is aligned


def test_fast_ledoit_wolf_is_scikit_learns(gtec_files):
    from sklearn.covariance import ledoit_wolf

    from neurospell.decoder.classical import ledoit_wolf_epoch

    X = load_epochs([gtec_files[0]]).data[:40].astype(np.float64)
    for x in X:
        ref = ledoit_wolf(x.T)[0]
        np.testing.assert_allclose(ledoit_wolf_epoch(x), ref, rtol=1e-10, atol=1e-12 * np.abs(ref).max())


def test_online_alignment_is_causal_ordered_and_not_saved(gtec_files, tmp_path):
    """A live session (and its replay) aligns a cross-subject model on the stream as it comes:
    each epoch on the unlabelled epochs scored so far, itself included; same order, same scores."""
    from neurospell.decoder.alignment import ONLINE_REFRESH, reference
    from neurospell.session.sessionmodels import align_stream

    train = load_epochs(gtec_files[:2])
    dec = make_decoder("lda").fit(train.subset(np.isin(train.trials, [0, 5])))
    dec.save(tmp_path / "m.pt")
    test = load_epochs([gtec_files[2]]).subset(list(range(5 * ONLINE_REFRESH)))
    live = load_decoder(tmp_path / "m.pt")
    align_stream(live)  # what make_driver does for a live session and for its replay
    assert live.aligns_online
    one_by_one = np.concatenate([live.decision_function(test.subset([i])) for i in range(len(test))])
    replay = load_decoder(tmp_path / "m.pt")  # a replay scores the same epochs one by one too
    replay.align_online()
    np.testing.assert_array_equal(
        np.concatenate([replay.decision_function(test.subset([i])) for i in range(len(test))]), one_by_one)
    # in one batch: the same alignment (only the classifier's BLAS rounding differs)
    batch = load_decoder(tmp_path / "m.pt")
    batch.align_online()
    np.testing.assert_allclose(batch.decision_function(test), one_by_one, rtol=1e-12, atol=1e-12)
    # causal: the first 30 scores do not depend on what comes after them
    head = load_decoder(tmp_path / "m.pt")
    head.align_online()
    np.testing.assert_array_equal(
        np.concatenate([head.decision_function(test.subset([i])) for i in range(30)]), one_by_one[:30])
    # at a refresh the reference is the offline one of every epoch so far: the last epoch scores as
    # `align_to` on all of them would score it
    offline = load_decoder(tmp_path / "m.pt").align_to(test)
    np.testing.assert_allclose(reference(test.data, offline.alignment_method),
                               np.linalg.inv(offline.alignment_target_ @ offline.alignment_target_),
                               rtol=1e-8)
    assert abs(offline.decision_function(test.subset([len(test) - 1]))[0] - one_by_one[-1]) < 1e-6 * max(
        1.0, abs(one_by_one[-1]))
    # the stream's state is not saved with the model (the next session is another recording)
    live.save(tmp_path / "after.pt")
    again = load_decoder(tmp_path / "after.pt")
    assert not again.aligns_online and again.alignment_target_ is None
    # a single-recording model never aligns online
    single = make_decoder("lda").fit(load_epochs([gtec_files[0]]))
    align_stream(single)
    assert not single.aligns_online
