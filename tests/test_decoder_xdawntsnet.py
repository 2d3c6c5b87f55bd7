"""The hybrid XdawnTSNet computes, in PyTorch, exactly the features of the classical
xDAWN-covariance tangent-space pipeline (pyRiemann), and its linear head starts at the
logistic regression of those features."""

import numpy as np
import pytest
import torch

from neurospell.decoder.models.xdawntsnet import XdawnTSNet, ledoit_wolf_torch


def test_ledoit_wolf_matches_scikit_learn():
    from sklearn.covariance import ledoit_wolf

    rng = np.random.default_rng(0)
    Z = rng.standard_normal((4, 6, 80)).cumsum(axis=2)  # correlated rows, non-zero means
    C = ledoit_wolf_torch(torch.tensor(Z)).numpy()
    for i in range(len(Z)):
        # float64 on both sides: agreement to rounding error
        np.testing.assert_allclose(C[i], ledoit_wolf(Z[i].T)[0], rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def erp():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((240, 8, 64))
    y = np.arange(240) % 6 == 0
    X[y, :4, 20:35] += np.hanning(15)  # a known ERP on 4 channels
    return X, y


def test_tangent_features_match_pyriemann(erp):
    from pyriemann.estimation import XdawnCovariances
    from pyriemann.tangentspace import TangentSpace

    X, y = erp
    net = XdawnTSNet(8, 64, 64.0, conv=False).double().fit_fixed(X, y)
    covs = XdawnCovariances(nfilter=4, estimator="lwf").fit(X, y.astype(int)).transform(X)
    ref = TangentSpace(metric="riemann").fit(covs).transform(covs)
    with torch.no_grad():
        mine = net._tangent(torch.tensor(X)).numpy()
    # float64; the Riemannian mean is iterative (tolerance 1e-8 in pyRiemann)
    np.testing.assert_allclose(mine, ref, atol=1e-6)
    np.testing.assert_allclose(net.ts_mean.numpy(), mine.mean(0), atol=1e-12)


def test_warm_start_is_the_logistic_regression(erp):
    from sklearn.linear_model import LogisticRegression

    X, y = erp
    torch.manual_seed(0)
    net = XdawnTSNet(8, 64, 64.0, conv=False).double().fit_fixed(X, y).eval()
    with torch.no_grad():
        feats = net.tangent_features(torch.tensor(X)).numpy()
        logits = net(torch.tensor(X)).numpy()
    lr = LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000).fit(feats, y)
    np.testing.assert_allclose(logits, lr.decision_function(feats), rtol=1e-6, atol=1e-6)
    # the known ERP (about 1.5 noise SD over 15 samples) is easy: the warm start alone
    # already ranks targets above non-targets on the training epochs
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, logits) > 0.95
    cold = XdawnTSNet(8, 64, 64.0, conv=False, warm_start=False).double().fit_fixed(X, y).eval()
    with torch.no_grad():
        assert torch.count_nonzero(cold(torch.tensor(X))) == 0  # zero-initialised head
