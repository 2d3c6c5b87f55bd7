"""Artifact epochs in one-epoch (live) scoring: skipped, not fatal; a unit error still is."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurospell.check import AmplitudeError
from neurospell.decoder import make_decoder
from neurospell.session.artifacts import UNIT_RUN, ArtifactGate
from neurospell.session.simulator import synthetic_erp_epochs


@pytest.fixture(scope="module")
def trained():
    batch = synthetic_erp_epochs(n_characters=6, n_repetitions=4, rng=np.random.default_rng(0))
    return make_decoder("lda").fit(batch), synthetic_erp_epochs(n_characters=2, n_repetitions=2,
                                                               rng=np.random.default_rng(1))


def _scaled(batch, i, factor):
    one = batch.subset([i])
    return dataclasses.replace(one, data=one.data * factor)


def test_an_artifact_epoch_is_skipped_and_the_stream_goes_on(trained):
    decoder, batch = trained
    gate = ArtifactGate()
    assert gate.score(decoder, batch.subset([0])) == pytest.approx(decoder.decision_function(batch.subset([0]))[0])
    with pytest.raises(AmplitudeError):  # the decoder itself refuses it (as a batch would)
        decoder.decision_function(_scaled(batch, 1, 300.0))
    assert gate.score(decoder, _scaled(batch, 1, 300.0)) is None
    # a long burst after the stream was scored: every epoch skipped, never an error
    for _ in range(3 * UNIT_RUN):
        assert gate.score(decoder, _scaled(batch, 2, 1e3)) is None
    assert gate.score(decoder, batch.subset([3])) is not None
    assert (gate.n_scored, gate.n_skipped) == (2, 1 + 3 * UNIT_RUN)


def test_a_stream_refused_from_its_start_is_a_unit_error(trained):
    decoder, batch = trained
    gate = ArtifactGate()
    for k in range(UNIT_RUN - 1):
        assert gate.score(decoder, _scaled(batch, k, 1e3)) is None
    with pytest.raises(AmplitudeError, match=rf"first {UNIT_RUN} epochs.*millivolts"):
        gate.score(decoder, _scaled(batch, UNIT_RUN, 1e3))
