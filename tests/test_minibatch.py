"""Tests of synergy.estimators.minibatch: MWS / MSS estimates of log q(z) against the exact
aggregate posterior of small datasets, and the beta-TCVAE decomposition."""

from __future__ import annotations

import itertools
import math

import pytest

torch = pytest.importorskip("torch")

from synergy._validate import (  # noqa: E402
    InvalidDistributionError,
    InvalidParameterError,
    InvalidTypeError,
)
from synergy.estimators.minibatch import (  # noqa: E402
    TCDecomposition,
    log_prod_qzj,
    log_qz,
    tc_decomposition,
)

pytestmark = pytest.mark.torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
F64 = torch.float64


def _dataset(n, d, *, seed, scale=1.0, logvar=-2.0):
    """Posterior parameters of a whole dataset of n examples (the mixture is q(z))."""
    gen = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=gen, dtype=F64) * scale
    lv = logvar + 0.3 * torch.randn(n, d, generator=gen, dtype=F64)
    return mu, lv, gen


def _log_normal(z, mu, lv):
    """log N(z_i,d; mu_n,d, exp(lv_n,d)) for every sample i and example n: (B, N, D)."""
    diff = z[:, None, :] - mu[None]
    return -0.5 * (math.log(2 * math.pi) + lv[None] + diff.square() * torch.exp(-lv[None]))


def _exact(z, mu_all, lv_all):
    """Exact log q(z_i) and sum_d log q(z_i,d) under the full mixture of the dataset."""
    mat = _log_normal(z, mu_all, lv_all)
    n = mu_all.shape[0]
    log_q = torch.logsumexp(mat.sum(-1), dim=1) - math.log(n)
    log_prod = (torch.logsumexp(mat, dim=1) - math.log(n)).sum(-1)
    return log_q, log_prod


def _batch(mu_all, lv_all, m, gen):
    idx = torch.randperm(mu_all.shape[0], generator=gen)[:m]
    mu, lv = mu_all[idx], lv_all[idx]
    z = mu + torch.exp(0.5 * lv) * torch.randn(mu.shape, generator=gen, dtype=F64)
    return z, mu, lv


# ---------------------------------------------------------------------------------------
# Against the exact aggregate posterior
# ---------------------------------------------------------------------------------------


def test_expectation_over_every_batch_matches_the_exact_mixture():
    # Enumerate every ordered batch (x_0, then M - 1 distinct others) of a 9-example
    # dataset: the mean of the estimated q(z) (before the log) over all of them is, for
    # MSS, exactly the mixture q(z) (unbiased, Chen et al. appendix C), and for MWS
    # exactly (q(z | x_0) + (M - 1)/(N - 1) * sum_{n != 0} q(z | x_n)) / (N M).
    n, m, d = 9, 4, 2
    mu_all, lv_all, gen = _dataset(n, d, seed=0, logvar=-0.5)
    z0 = mu_all[0] + torch.exp(0.5 * lv_all[0]) * torch.randn(d, generator=gen, dtype=F64)
    q_each = torch.exp(_log_normal(z0[None], mu_all, lv_all).sum(-1))[0]  # (N,)
    exact_q = q_each.mean()
    exact_mws = (q_each[0] + (m - 1) / (n - 1) * q_each[1:].sum()) / (n * m)
    for method, expected in (("mss", exact_q), ("mws", exact_mws)):
        total = torch.zeros((), dtype=F64)
        count = 0
        for others in itertools.permutations(range(1, n), m - 1):
            idx = torch.tensor((0, *others))
            z = torch.cat([z0[None], mu_all[idx[1:]]])  # only z_0 is read below
            est = log_qz(z, mu_all[idx], lv_all[idx], dataset_size=n, method=method)
            total = total + torch.exp(est[0])
            count += 1
        torch.testing.assert_close(total / count, expected, rtol=1e-12, atol=0)


def test_full_dataset_batch():
    # With the whole dataset as the batch, MWS is the exact log q(z) minus log N (its
    # weights sum to 1/N). MSS weights are at most 1/(N - 1), so it is at most
    # log(N / (N - 1)) above; one neighbour's weight is 1/(N(N - 1)), so it can be
    # further below when that neighbour dominates, but is close on average.
    n, d = 50, 3
    mu_all, lv_all, gen = _dataset(n, d, seed=1)
    z = mu_all + torch.exp(0.5 * lv_all) * torch.randn(n, d, generator=gen, dtype=F64)
    exact_q, exact_prod = _exact(z, mu_all, lv_all)
    mws = log_qz(z, mu_all, lv_all, dataset_size=n, method="mws")
    torch.testing.assert_close(mws, exact_q - math.log(n))
    mws_prod = log_prod_qzj(z, mu_all, lv_all, dataset_size=n, method="mws")
    torch.testing.assert_close(mws_prod, exact_prod - d * math.log(n))
    mss = log_qz(z, mu_all, lv_all, dataset_size=n, method="mss")
    assert torch.all(mss - exact_q <= math.log(n / (n - 1)) + 1e-12)
    assert (mss - exact_q).abs().mean() < 0.05  # measured 0.028 (seed 1, float64)


def test_mws_is_at_least_log_m_low():
    # The batch's posteriors are part of the full mixture, so MWS <= log q(z) - log M.
    mu_all, lv_all, gen = _dataset(500, 3, seed=2)
    for m in (8, 64, 256):
        z, mu, lv = _batch(mu_all, lv_all, m, gen)
        exact_q, _ = _exact(z, mu_all, lv_all)
        mws = log_qz(z, mu, lv, dataset_size=500, method="mws")
        assert torch.all(mws <= exact_q - math.log(m) + 1e-10)


@pytest.mark.parametrize(
    ("dims", "logvar"),
    [(3, -2.0), (5, -4.0), (2, 0.0)],  # overlapping to well-separated posteriors
)
def test_mss_error_falls_as_the_batch_grows(dims, logvar):
    # Mean absolute error of log q(z_i) and of the total correlation against the exact
    # mixture of a 1024-example dataset, averaged over 8 seeds. Measured with these seeds
    # (float64), log q error M=16 -> M=256 and TC error M=16 -> M=256:
    #   dims=3, logvar=-2: 1.533 -> 0.293 and 0.595 -> 0.059
    #   dims=5, logvar=-4: 0.125 -> 0.082 and 2.333 -> 0.047 (own posterior dominates)
    #   dims=2, logvar= 0: 0.259 -> 0.052 and 0.043 -> 0.003
    n = 1024
    errors = {}
    for m in (16, 256):
        log_q_err, tc_err = 0.0, 0.0
        for seed in range(8):
            mu_all, lv_all, gen = _dataset(n, dims, seed=100 + seed, logvar=logvar)
            z, mu, lv = _batch(mu_all, lv_all, m, gen)
            exact_q, exact_prod = _exact(z, mu_all, lv_all)
            est = log_qz(z, mu, lv, dataset_size=n)
            log_q_err += (est - exact_q).abs().mean().item() / 8
            tc = tc_decomposition(z, mu, lv, dataset_size=n).total_correlation
            tc_err += abs(tc.item() - (exact_q - exact_prod).mean().item()) / 8
        errors[m] = (log_q_err, tc_err)
    assert errors[256][0] < 0.75 * errors[16][0], errors
    assert errors[256][1] < 0.5 * errors[16][1], errors


# ---------------------------------------------------------------------------------------
# Decomposition identities, gradients, dtype/device, errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["mss", "mws"])
def test_tc_terms_add_up_to_the_one_sample_kl(method):
    mu_all, lv_all, gen = _dataset(300, 4, seed=3)
    z, mu, lv = _batch(mu_all, lv_all, 32, gen)
    parts = tc_decomposition(z, mu, lv, dataset_size=300, method=method)
    assert isinstance(parts, TCDecomposition)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * lv))
    p = torch.distributions.Normal(0.0, 1.0)
    one_sample_kl = (q.log_prob(z) - p.log_prob(z)).sum(1).mean()
    torch.testing.assert_close(
        parts.index_code_mi + parts.total_correlation + parts.dimension_wise_kl, one_sample_kl
    )


def test_log_qz_matches_direct_sum():
    # log q(z_i) as a plain double loop over the MSS weights of the appendix.
    n, m = 40, 5
    mu_all, lv_all, gen = _dataset(n, 2, seed=4)
    z, mu, lv = _batch(mu_all, lv_all, m, gen)
    q = torch.exp(_log_normal(z, mu, lv).sum(-1))  # q(z_i | x_j), (M, M)
    expected = []
    for i in range(m):
        total = q[i, i] / n
        for j in range(m):
            if j == (i + 1) % m:
                total = total + q[i, j] * (n - m + 1) / (n * (m - 1))
            elif j != i:
                total = total + q[i, j] / (m - 1)
        expected.append(torch.log(total))
    torch.testing.assert_close(log_qz(z, mu, lv, dataset_size=n), torch.stack(expected))


@pytest.mark.parametrize("method", ["mss", "mws"])
def test_gradcheck(method):
    mu_all, lv_all, gen = _dataset(30, 3, seed=5)
    z, mu, lv = _batch(mu_all, lv_all, 5, gen)
    args = tuple(t.clone().requires_grad_(True) for t in (z, mu, lv))
    kw = {"dataset_size": 30, "method": method}
    assert torch.autograd.gradcheck(lambda a, b, c: log_qz(a, b, c, **kw), args)
    assert torch.autograd.gradcheck(lambda a, b, c: log_prod_qzj(a, b, c, **kw), args)

    def terms(a, b, c):
        parts = tc_decomposition(a, b, c, **kw)
        return torch.stack([parts.index_code_mi, parts.total_correlation, parts.dimension_wise_kl])

    assert torch.autograd.gradcheck(terms, args)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("method", ["mss", "mws"])
def test_keeps_dtype_and_device(dtype, device, method):
    mu_all, lv_all, gen = _dataset(100, 3, seed=6)
    z, mu, lv = (t.to(dtype=dtype, device=device) for t in _batch(mu_all, lv_all, 8, gen))
    out = log_qz(z, mu, lv, dataset_size=100, method=method)
    assert out.dtype == dtype
    assert out.device.type == device
    assert out.shape == (8,)
    parts = tc_decomposition(z, mu, lv, dataset_size=100, method=method)
    for value in (parts.index_code_mi, parts.total_correlation, parts.dimension_wise_kl):
        assert value.dtype == dtype
        assert value.device.type == device
        assert value.shape == ()


def test_errors():
    mu_all, lv_all, gen = _dataset(100, 3, seed=7)
    z, mu, lv = _batch(mu_all, lv_all, 8, gen)
    with pytest.raises(InvalidParameterError, match=r"`dataset_size`.*at least the batch"):
        log_qz(z, mu, lv, dataset_size=4)
    with pytest.raises(InvalidTypeError, match=r"`dataset_size`"):
        log_qz(z, mu, lv, dataset_size=100.0)
    with pytest.raises(InvalidParameterError, match=r"`method`"):
        tc_decomposition(z, mu, lv, dataset_size=100, method="is")
    with pytest.raises(InvalidParameterError, match=r"`z`.*at least 2"):
        log_qz(z[:1], mu[:1], lv[:1], dataset_size=100)
    log_qz(z[:1], mu[:1], lv[:1], dataset_size=100, method="mws")  # fine for MWS
    with pytest.raises(InvalidParameterError, match=r"`z`.*same shape"):
        log_prod_qzj(z[:, :2], mu, lv, dataset_size=100)
    with pytest.raises(InvalidParameterError, match=r"`logvar`"):
        log_qz(z, mu, lv[:, :2], dataset_size=100)
    bad = z.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(InvalidDistributionError, match=r"`z`.*finite"):
        log_qz(bad, mu, lv, dataset_size=100)
