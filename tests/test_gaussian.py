"""Tests of synergy.estimators.gaussian: KL per dimension, latent I_max, greedy subset, penalty,
Gaussian closed forms (entropy, MI, WMS, MMI PID)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from synergy._validate import (  # noqa: E402
    InvalidDistributionError,
    InvalidParameterError,
    InvalidTypeError,
)
from synergy.estimators import gaussian as G  # noqa: E402
from synergy.estimators.gaussian import (  # noqa: E402
    GaussianPID,
    NonSynergyPenalty,
    gaussian_entropy,
    gaussian_mmi_pid,
    gaussian_mutual_information,
    gaussian_wms,
    greedy_best_subset,
    kl_per_dim,
    latent_i_max,
    latent_s_max,
    non_synergy_penalty,
)

pytestmark = pytest.mark.torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
DTYPES = [torch.float32, torch.float64]


def _latents(batch=32, dims=6, *, seed=0, dtype=torch.float64, device="cpu", grad=False):
    gen = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch, dims, generator=gen, dtype=torch.float64) * 1.5
    logvar = torch.randn(batch, dims, generator=gen, dtype=torch.float64) - 0.5
    mu = mu.to(dtype=dtype, device=device).requires_grad_(grad)
    logvar = logvar.to(dtype=dtype, device=device).requires_grad_(grad)
    return mu, logvar


def _random_cov(n, *, seed=0, batch=(), dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(*batch, n, n, generator=gen, dtype=torch.float64)
    return (a @ a.mT / n + 0.3 * torch.eye(n, dtype=torch.float64)).to(dtype)


# ---------------------------------------------------------------------------------------
# kl_per_dim
# ---------------------------------------------------------------------------------------


def test_kl_per_dim_matches_torch_distributions():
    mu, logvar = _latents(64, 7, seed=1)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(kl_per_dim(mu, logvar), torch.distributions.kl_divergence(q, p))


def test_kl_per_dim_matches_monte_carlo():
    # KL = E_q[log q(z) - log p(z)], 400k seeded samples: standard error below 0.003 nats.
    mu = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64)
    logvar = torch.tensor([0.0, -1.0, 0.7], dtype=torch.float64)
    gen = torch.Generator().manual_seed(2)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(400_000, 3, generator=gen, dtype=torch.float64)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(0.0, 1.0)
    mc = (q.log_prob(z) - p.log_prob(z)).mean(0)
    torch.testing.assert_close(kl_per_dim(mu, logvar), mc, atol=0.01, rtol=0)


def test_kl_per_dim_accurate_near_unit_variance():
    # 0.5 * (exp(v) - 1 - v) = v**2 / 4 + O(v**3). In float32 at v = 1e-3, exp(v) - 1
    # loses about 10% of the answer to rounding; expm1 keeps it within 0.1%.
    logvar = torch.tensor([1e-3, -1e-3], dtype=torch.float32)
    exact = 0.5 * (torch.expm1(logvar.double()) - logvar.double())
    out = kl_per_dim(torch.zeros(2), logvar)
    torch.testing.assert_close(out, exact.float(), rtol=1e-3, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_kl_per_dim_keeps_dtype_and_device(dtype, device):
    mu, logvar = _latents(5, 3, dtype=dtype, device=device)
    out = kl_per_dim(mu, logvar)
    assert out.dtype == dtype
    assert out.device.type == device
    assert out.shape == (5, 3)


def test_kl_per_dim_gradcheck():
    mu, logvar = _latents(4, 3, seed=3, grad=True)
    assert torch.autograd.gradcheck(kl_per_dim, (mu, logvar))


def test_kl_per_dim_errors():
    mu, logvar = _latents(4, 3)
    with pytest.raises(InvalidParameterError, match=r"`logvar`.*same shape"):
        kl_per_dim(mu, logvar[:, :2])
    bad = mu.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(InvalidDistributionError, match=r"`mu`.*finite"):
        kl_per_dim(bad, logvar)
    bad = logvar.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(InvalidDistributionError, match=r"`logvar`.*finite"):
        kl_per_dim(mu, bad)
    with pytest.raises(InvalidTypeError, match=r"`mu`"):
        kl_per_dim(mu.numpy(), logvar)
    with pytest.raises(InvalidTypeError, match=r"`logvar`.*dtype"):
        kl_per_dim(mu, logvar.float())


# ---------------------------------------------------------------------------------------
# latent I_max / S_max
# ---------------------------------------------------------------------------------------

SUBSETS = [[0], [1, 2], [3, 4, 5], [0, 5], [-1]]


def _subset_kls_loop(mu, logvar, subsets):
    kl = kl_per_dim(mu, logvar)
    return torch.stack([kl[:, list(s)].sum(1) for s in subsets], dim=1)  # (B, S)


def test_latent_i_max_matches_loop():
    mu, logvar = _latents(40, 6, seed=4)
    per = _subset_kls_loop(mu, logvar, SUBSETS)
    torch.testing.assert_close(latent_i_max(mu, logvar, SUBSETS), per.mean(0).max())
    torch.testing.assert_close(latent_i_max(mu, logvar, SUBSETS, reduce="min"), per.mean(0).min())
    torch.testing.assert_close(
        latent_i_max(mu, logvar, SUBSETS, outcome_wise=True), per.max(1).values.mean()
    )
    total = kl_per_dim(mu, logvar).sum(1).mean()
    torch.testing.assert_close(latent_s_max(mu, logvar, SUBSETS), total - per.mean(0).max())
    torch.testing.assert_close(
        latent_s_max(mu, logvar, SUBSETS, reduce="min", outcome_wise=True),
        total - per.min(1).values.mean(),
    )


@pytest.mark.parametrize("seed", range(5))
def test_latent_s_max_bounds(seed):
    # 0 <= S_max <= proxy of I(x; z), and the outcome-wise I_max is the larger (mean of max
    # >= max of means), so its S_max is the smaller.
    mu, logvar = _latents(16, 6, seed=seed)
    total = kl_per_dim(mu, logvar).sum(1).mean()
    s_batch = latent_s_max(mu, logvar, SUBSETS)
    s_outcome = latent_s_max(mu, logvar, SUBSETS, outcome_wise=True)
    assert 0 <= s_outcome <= s_batch <= total
    s_min = latent_s_max(mu, logvar, SUBSETS, reduce="min")
    assert s_batch <= s_min <= total


def test_latent_i_max_whole_set_gives_zero_s_max():
    mu, logvar = _latents(8, 4, seed=5)
    torch.testing.assert_close(
        latent_s_max(mu, logvar, [[0, 1, 2, 3]]), torch.tensor(0.0, dtype=torch.float64)
    )


@pytest.mark.parametrize("outcome_wise", [False, True])
def test_latent_i_max_gradcheck(outcome_wise):
    mu, logvar = _latents(5, 6, seed=6, grad=True)
    assert torch.autograd.gradcheck(
        lambda m, v: latent_i_max(m, v, SUBSETS, outcome_wise=outcome_wise), (mu, logvar)
    )
    assert torch.autograd.gradcheck(
        lambda m, v: latent_s_max(m, v, SUBSETS, reduce="min", outcome_wise=outcome_wise),
        (mu, logvar),
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_latent_i_max_keeps_dtype_and_device(dtype, device):
    mu, logvar = _latents(5, 6, dtype=dtype, device=device)
    for out in (latent_i_max(mu, logvar, SUBSETS), latent_s_max(mu, logvar, SUBSETS)):
        assert out.dtype == dtype
        assert out.device.type == device
        assert out.shape == ()


def test_latent_i_max_errors():
    mu, logvar = _latents(4, 3)
    with pytest.raises(InvalidParameterError, match=r"`subsets`.*non-empty sequence"):
        latent_i_max(mu, logvar, [])
    with pytest.raises(InvalidParameterError, match=r"`subsets`.*non-empty group"):
        latent_i_max(mu, logvar, [[0], []])
    with pytest.raises(InvalidParameterError, match=r"`subsets`.*indices in"):
        latent_i_max(mu, logvar, [[0, 3]])
    with pytest.raises(InvalidParameterError, match=r"`subsets`.*distinct"):
        latent_i_max(mu, logvar, [[1, 1]])
    with pytest.raises(InvalidTypeError, match=r"`subsets`"):
        latent_i_max(mu, logvar, "01")
    with pytest.raises(InvalidParameterError, match=r"`reduce`"):
        latent_s_max(mu, logvar, [[0]], reduce="mean")
    with pytest.raises(InvalidParameterError, match=r"`mu`.*2 axes"):
        latent_i_max(mu[0], logvar[0], [[0]])


# ---------------------------------------------------------------------------------------
# Greedy best subset
# ---------------------------------------------------------------------------------------


def reference_greedy(kl_values, omega):
    """Plain loop of the rule, written as the reference code (greedy.py) does it, on lists.

    ``sum`` over the candidate list adds in the order chosen, as the library does.
    """
    z_dim = len(kl_values)
    best_c: list[int] = []
    best_index: list[int] = []
    i_max_best = 0
    for _ in range(z_dim):
        index = [i for i in range(z_dim) if i not in best_c]
        for idx in index:
            c = [*best_index, idx]
            i_max_new = sum(kl_values[k] for k in c)
            if len(best_index) < 1:
                if i_max_new > i_max_best:
                    best_c = c
                    i_max_best = i_max_new
            elif i_max_new * omega > i_max_best:
                best_c = c
                i_max_best = i_max_new
        best_index = best_c
    return best_index


def reference_greedy_tensor(kl, omega):
    """The same loop with tensor reductions per candidate, as the reference code ran it."""
    z_dim = kl.shape[0]
    best_c: list[int] = []
    best_index: list[int] = []
    i_max_best = torch.zeros((), dtype=kl.dtype)
    for _ in range(z_dim):
        index = [i for i in range(z_dim) if i not in best_c]
        for idx in index:
            c = [*best_index, idx]
            i_max_new = kl[c].sum()
            factor = 1.0 if len(best_index) < 1 else omega
            if i_max_new * factor > i_max_best:
                best_c = c
                i_max_best = i_max_new
        best_index = best_c
    return best_index


def _random_kl_vectors(count, seed):
    """KL-like vectors with ties, zeros and a wide range of scales, D from 1 to 12."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        d = int(rng.integers(1, 13))
        kind = k % 5
        if kind == 0:
            v = rng.exponential(1.0, d)
        elif kind == 1:  # small integers: many ties and zeros
            v = rng.integers(0, 4, d).astype(float)
        elif kind == 2:  # posterior collapse: most dimensions exactly 0
            v = np.where(rng.random(d) < 0.6, 0.0, rng.exponential(3.0, d))
        elif kind == 3:  # dyadic values, exact in binary: ties that survive summation
            v = rng.integers(0, 16, d) / 8.0
        else:  # heavy tail, as early in training
            v = rng.lognormal(0.0, 2.0, d)
        out.append(v)
    return out


@pytest.mark.parametrize("omega", [0.5, 0.8, 0.9, 1.0])
def test_greedy_equals_plain_loop(omega):
    for v in _random_kl_vectors(2500, seed=int(omega * 100)):
        chosen = greedy_best_subset(torch.tensor(v, dtype=torch.float64), omega)
        assert chosen.tolist() == reference_greedy(v.tolist(), omega), (v, omega)


@pytest.mark.parametrize("omega", [0.5, 0.8, 0.9, 1.0])
def test_greedy_equals_tensor_loop_on_exact_values(omega):
    # Integer and dyadic values add exactly in any order, so the reference's tensor sums
    # and the library's float64 running sum must agree bit for bit, ties included.
    vectors = [v for v in _random_kl_vectors(600, seed=7) if np.all(v * 8 == np.round(v * 8))]
    assert len(vectors) > 200
    for v in vectors:
        kl = torch.tensor(v, dtype=torch.float64)
        assert greedy_best_subset(kl, omega).tolist() == reference_greedy_tensor(kl, omega)


def test_greedy_worked_examples():
    # Hand-run of the rule (DESIGN.md, "Greedy best subset").
    def g(v, omega):
        return greedy_best_subset(torch.tensor(v, dtype=torch.float64), omega).tolist()

    assert g([0.0, 0.0, 0.0], 0.9) == []  # best starts at 0: KL 0 is never accepted first
    assert g([0.0, 0.0, 2.0], 0.9) == [2]  # 0.9 * (2 + 0) = 1.8 <= 2 in round two
    assert g([1.0, 1.0], 1.0) == [0, 1]  # a tie goes to the lower index
    # omega <= 1/2 stops after one dimension: omega * (max + k_j) <= max for every j.
    assert g([1.0, 2.0, 2.5], 0.5) == [2]
    # omega < 1 is not a running max: round two (base 10) accepts j=1 (0.9 * 12 > 10),
    # then j=2 needs 0.9 * 13 > 12 and fails though its KL is larger; it joins in round 3.
    assert g([10.0, 2.0, 3.0], 0.9) == [0, 1, 2]
    assert g([1.0, 0.0, 2.0, 3.0], 1.0) == [3, 2, 0]


_kl_lists = st.lists(
    st.one_of(
        st.just(0.0),
        st.integers(0, 4).map(float),
        st.floats(0.0, 50.0, allow_nan=False, allow_subnormal=False),
    ),
    min_size=1,
    max_size=12,
)
_dyadic_lists = st.lists(st.integers(0, 40).map(lambda k: k / 8.0), min_size=1, max_size=12)
_omegas = st.one_of(st.sampled_from([0.5, 0.8, 0.9, 1.0]), st.floats(0.01, 1.0))


@settings(max_examples=300, deadline=None)
@given(values=_kl_lists, omega=_omegas)
def test_greedy_properties(values, omega):
    chosen = greedy_best_subset(torch.tensor(values, dtype=torch.float64), omega).tolist()
    assert chosen == reference_greedy(values, omega)
    assert len(set(chosen)) == len(chosen)
    if max(values) > 0:  # round one takes the first largest KL
        assert chosen[0] == values.index(max(values))
    else:
        assert chosen == []
    if omega <= 0.5:
        assert len(chosen) <= 1
    # The rule only compares sums and their multiples: scaling by 4 is exact in binary.
    scaled = torch.tensor(values, dtype=torch.float64) * 4
    assert greedy_best_subset(scaled, omega).tolist() == chosen


@settings(max_examples=200, deadline=None)
@given(values=_dyadic_lists)
def test_greedy_omega_one_sorts_positive_dimensions(values):
    # Exact (dyadic) values: with omega = 1 the rule is a running max per round, so it
    # takes every positive dimension, largest first, ties to the lower index.
    expected = sorted((j for j, v in enumerate(values) if v > 0), key=lambda j: (-values[j], j))
    chosen = greedy_best_subset(torch.tensor(values, dtype=torch.float64), 1.0).tolist()
    assert chosen == expected


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    omega=st.floats(0.05, 1.0),
    alpha=st.floats(0.0, 10.0),
)
def test_penalty_bounds(seed, omega, alpha):
    mu, logvar = _latents(8, 6, seed=seed)
    loss, info = non_synergy_penalty(mu, logvar, alpha=alpha, omega=omega)
    total = alpha * info.kl_per_dim.sum(1).mean()
    assert 0 <= loss <= total * (1 + 1e-12)
    assert sorted(info.best.tolist() + info.worst.tolist()) == list(range(6))
    if info.best.numel() == 0:
        torch.testing.assert_close(loss, total)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_greedy_returns_long_on_device(dtype, device):
    out = greedy_best_subset(torch.tensor([0.5, 2.0, 1.0], dtype=dtype, device=device), 0.9)
    assert out.dtype == torch.long
    assert out.device.type == device
    assert greedy_best_subset(torch.zeros(3, dtype=dtype, device=device), 0.9).shape == (0,)


def test_greedy_errors():
    kl = torch.tensor([0.5, 1.0])
    for omega in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(InvalidParameterError, match=r"`omega`.*\(0, 1\]"):
            greedy_best_subset(kl, omega)
    with pytest.raises(InvalidTypeError, match=r"`omega`"):
        greedy_best_subset(kl, "0.9")
    with pytest.raises(InvalidParameterError, match=r"`kl`.*one-dimensional"):
        greedy_best_subset(kl[None], 0.9)
    with pytest.raises(InvalidDistributionError, match=r"`kl`"):
        greedy_best_subset(torch.tensor([1.0, float("inf")]), 0.9)


# ---------------------------------------------------------------------------------------
# Non-synergy penalty
# ---------------------------------------------------------------------------------------


def test_penalty_value_and_sets():
    mu, logvar = _latents(64, 10, seed=8)
    loss, info = non_synergy_penalty(mu, logvar, alpha=5.0, omega=0.9)
    kl = kl_per_dim(mu, logvar)
    expected_best = reference_greedy(kl.mean(0).tolist(), 0.9)
    assert info.best.tolist() == expected_best
    assert info.worst.tolist() == sorted(set(range(10)) - set(expected_best))
    torch.testing.assert_close(info.kl_per_dim, kl)
    torch.testing.assert_close(loss, 5.0 * kl[:, info.worst].sum(1).mean())
    none, _ = non_synergy_penalty(mu, logvar, alpha=5.0, omega=0.9, reduction="none")
    total, _ = non_synergy_penalty(mu, logvar, alpha=5.0, omega=0.9, reduction="sum")
    assert none.shape == (64,)
    torch.testing.assert_close(none.mean(), loss)
    torch.testing.assert_close(total, none.sum())


def test_penalty_gradient_reaches_only_worst_dimensions():
    mu, logvar = _latents(32, 10, seed=9, grad=True)
    loss, info = non_synergy_penalty(mu, logvar, alpha=5.0, omega=0.9)
    assert 0 < info.best.numel() < 10
    loss.backward()
    for grad in (mu.grad, logvar.grad):
        assert torch.all(grad[:, info.best] == 0)
        assert torch.all(grad[:, info.worst].abs().sum(0) > 0)
    # d/dmu of alpha * mean_b KL = alpha * mu / B on the worst dimensions.
    torch.testing.assert_close(mu.grad[:, info.worst], 5.0 * mu.detach()[:, info.worst] / 32)


def test_penalty_gradcheck():
    mu, logvar = _latents(6, 5, seed=10, grad=True)
    for reduction in ("mean", "none"):
        assert torch.autograd.gradcheck(
            lambda m, v, r=reduction: non_synergy_penalty(m, v, alpha=2.0, omega=0.8, reduction=r)[
                0
            ],
            (mu, logvar),
        )


def test_penalty_all_dimensions_chosen_gives_zero_loss_with_graph():
    mu = torch.ones(4, 3, requires_grad=True)
    loss, info = non_synergy_penalty(mu, torch.zeros(4, 3), alpha=5.0, omega=1.0)
    assert info.worst.numel() == 0
    loss.backward()
    assert torch.all(mu.grad == 0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_penalty_keeps_dtype_and_device(dtype, device):
    mu, logvar = _latents(8, 10, dtype=dtype, device=device)
    loss, info = non_synergy_penalty(mu, logvar, alpha=5.0, omega=0.9)
    assert loss.dtype == dtype
    assert loss.device.type == device
    assert info.kl_per_dim.dtype == dtype
    assert info.best.device.type == device
    assert info.worst.device.type == device


def test_penalty_module_matches_function():
    mu, logvar = _latents(16, 10, seed=11)
    module = NonSynergyPenalty(alpha=5.0, omega=0.9)
    loss_m, info_m = module(mu, logvar)
    loss_f, info_f = non_synergy_penalty(mu, logvar, alpha=5.0, omega=0.9)
    torch.testing.assert_close(loss_m, loss_f)
    assert torch.equal(info_m.best, info_f.best)
    assert "alpha=5.0" in repr(module)
    assert list(module.parameters()) == []


def test_penalty_errors():
    mu, logvar = _latents(4, 3)
    with pytest.raises(InvalidParameterError, match=r"`alpha` parameter of non_synergy_penalty"):
        non_synergy_penalty(mu, logvar, alpha=-1.0, omega=0.9)
    with pytest.raises(InvalidParameterError, match=r"`omega`"):
        non_synergy_penalty(mu, logvar, alpha=1.0, omega=0.0)
    with pytest.raises(InvalidParameterError, match=r"`reduction`"):
        non_synergy_penalty(mu, logvar, alpha=1.0, omega=0.9, reduction="max")
    with pytest.raises(InvalidParameterError, match=r"`logvar`"):
        non_synergy_penalty(mu, logvar[:2], alpha=1.0, omega=0.9)
    with pytest.raises(InvalidParameterError, match=r"`mu`.*2 axes"):
        non_synergy_penalty(mu[None], logvar[None], alpha=1.0, omega=0.9)
    bad = mu.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(InvalidDistributionError, match=r"`mu`"):
        non_synergy_penalty(bad, logvar, alpha=1.0, omega=0.9)
    with pytest.raises(InvalidParameterError, match=r"`omega` parameter of NonSynergyPenalty"):
        NonSynergyPenalty(5.0, 1.1)
    with pytest.raises(InvalidParameterError, match=r"`alpha` parameter of NonSynergyPenalty"):
        NonSynergyPenalty(-5.0, 0.9)


def test_validate_false_runs_no_tensor_checks(monkeypatch):
    # The checks read tensor values (a device sync on GPU); with validate=False none may run.
    def forbidden(*args, **kwargs):
        raise AssertionError("a tensor check ran with validate=False")

    monkeypatch.setattr(G, "check_mu_logvar", forbidden)
    monkeypatch.setattr(G, "check_finite", forbidden)
    mu, logvar = _latents(8, 10)
    kl_per_dim(mu, logvar, validate=False)
    non_synergy_penalty(mu, logvar, alpha=5.0, omega=0.9, validate=False)
    NonSynergyPenalty(5.0, 0.9, validate=False)(mu, logvar)
    latent_i_max(mu, logvar, [[0, 1]], validate=False)
    greedy_best_subset(kl_per_dim(mu, logvar, validate=False).mean(0), 0.9, validate=False)
    gaussian_entropy(_random_cov(3), validate=False)


# ---------------------------------------------------------------------------------------
# Gaussian closed forms
# ---------------------------------------------------------------------------------------


def test_gaussian_entropy_matches_torch_and_monte_carlo():
    cov = _random_cov(4, seed=12)
    mvn = torch.distributions.MultivariateNormal(torch.zeros(4, dtype=torch.float64), cov)
    torch.testing.assert_close(gaussian_entropy(cov, base=math.e), mvn.entropy())
    # Seeded Monte Carlo, h = -E[log p(X)]: 200k samples, standard error about 0.005 nats.
    x = mvn.sample((200_000,))
    torch.testing.assert_close(
        gaussian_entropy(cov, base=math.e), -mvn.log_prob(x).mean(), atol=0.02, rtol=0
    )


def test_gaussian_entropy_base_and_closed_form():
    # h(N(0, s^2)) = 0.5 * log2(2 pi e s^2) bits (Cover & Thomas, Example 8.1.2).
    cov = torch.tensor([[4.0]], dtype=torch.float64)
    expected = 0.5 * math.log2(2 * math.pi * math.e * 4.0)
    torch.testing.assert_close(gaussian_entropy(cov), torch.tensor(expected, dtype=torch.float64))
    torch.testing.assert_close(
        gaussian_entropy(cov, base=math.e), gaussian_entropy(cov) * math.log(2)
    )


def test_gaussian_mutual_information_matches_monte_carlo():
    cov = _random_cov(5, seed=13)
    a, b = [0, 3], [1, 4]
    mvn = torch.distributions.MultivariateNormal(torch.zeros(5, dtype=torch.float64), cov)
    x = mvn.sample((200_000,))

    def log_p(idx):
        sub = cov[idx][:, idx]
        zero = torch.zeros(len(idx), dtype=torch.float64)
        return torch.distributions.MultivariateNormal(zero, sub).log_prob(x[:, idx])

    mc = (log_p(a + b) - log_p(a) - log_p(b)).mean() / math.log(2)
    torch.testing.assert_close(gaussian_mutual_information(cov, a, b), mc, atol=0.02, rtol=0)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1), scales=st.lists(st.floats(0.1, 10.0), min_size=5, max_size=5)
)
def test_gaussian_mutual_information_invariances(seed, scales):
    # I(A; B) >= 0, symmetric, and unchanged by rescaling each variable (cov -> S cov S)
    # or by listing the variables in another order.
    cov = _random_cov(5, seed=seed % 10_000)
    i_ab = gaussian_mutual_information(cov, [0, 1], [2, 4])
    assert i_ab >= -1e-12
    torch.testing.assert_close(gaussian_mutual_information(cov, [2, 4], [1, 0]), i_ab)
    s = torch.diag(torch.tensor(scales, dtype=torch.float64))
    torch.testing.assert_close(gaussian_mutual_information(s @ cov @ s, [0, 1], [2, 4]), i_ab)
    perm = [3, 4, 0, 2, 1]  # new index of old variable k is perm.index(k)
    p_cov = cov[perm][:, perm]
    where = {k: perm.index(k) for k in range(5)}
    torch.testing.assert_close(
        gaussian_mutual_information(p_cov, [where[0], where[1]], [where[2], where[4]]), i_ab
    )


def test_gaussian_mutual_information_bivariate_closed_form():
    # I = -0.5 log2(1 - rho^2) for a bivariate normal (Cover & Thomas, Example 8.5.1).
    rho = torch.tensor([0.0, 0.3, -0.6, 0.99], dtype=torch.float64)
    cov = torch.stack(
        [
            torch.stack([torch.ones_like(rho), rho], -1),
            torch.stack([rho, torch.ones_like(rho)], -1),
        ],
        -2,
    )
    torch.testing.assert_close(
        gaussian_mutual_information(cov, 0, 1), -0.5 * torch.log2(1 - rho**2)
    )


def test_gaussian_batched_equals_loop():
    cov = _random_cov(4, seed=14, batch=(3, 2))
    batched = gaussian_mutual_information(cov, [0], [2, 3])
    assert batched.shape == (3, 2)
    for i in range(3):
        for j in range(2):
            torch.testing.assert_close(
                batched[i, j], gaussian_mutual_information(cov[i, j], [0], [2, 3])
            )
    pid = gaussian_mmi_pid(cov, [0, 1], [2, 3])
    assert pid.unique.shape == (3, 2, 2)
    torch.testing.assert_close(
        pid.synergy[1, 0], gaussian_mmi_pid(cov[1, 0], [0, 1], [2, 3]).synergy
    )


def _sum_of_two():
    # X1, X2 independent N(0, 1) and Y = X1 + X2 + N(0, s2) with s2 = 0.25.
    s2 = 0.25
    cov = torch.tensor(
        [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 2.0 + s2]], dtype=torch.float64
    )
    return cov, s2


def test_gaussian_wms_and_mmi_pid_sum_of_two():
    cov, s2 = _sum_of_two()
    # Closed forms derived by hand: I(Xi; Y) = 0.5 log2((2 + s2) / (1 + s2)),
    # I(X1 X2; Y) = 0.5 log2((2 + s2) / s2).
    i_single = 0.5 * math.log2((2 + s2) / (1 + s2))
    i_joint = 0.5 * math.log2((2 + s2) / s2)
    f64 = torch.float64
    torch.testing.assert_close(
        gaussian_wms(cov, [0, 1], 2), torch.tensor(i_joint - 2 * i_single, dtype=f64)
    )
    pid = gaussian_mmi_pid(cov, [0, 1], 2)
    assert isinstance(pid, GaussianPID)
    torch.testing.assert_close(pid.redundancy, torch.tensor(i_single, dtype=f64))
    torch.testing.assert_close(pid.unique, torch.zeros(2, dtype=f64))
    torch.testing.assert_close(pid.synergy, torch.tensor(i_joint - i_single, dtype=f64))
    torch.testing.assert_close(pid.mutual_information, torch.tensor(i_joint, dtype=f64))


@pytest.mark.parametrize("seed", range(6))
def test_gaussian_mmi_pid_identities(seed):
    cov = _random_cov(5, seed=20 + seed)
    sources, target = [[0, 1], [2]], [3, 4]
    pid = gaussian_mmi_pid(cov, sources, target)
    i1 = gaussian_mutual_information(cov, [0, 1], [3, 4])
    i2 = gaussian_mutual_information(cov, [2], [3, 4])
    torch.testing.assert_close(pid.redundancy + pid.unique[0], i1)
    torch.testing.assert_close(pid.redundancy + pid.unique[1], i2)
    torch.testing.assert_close(
        pid.redundancy + pid.unique.sum() + pid.synergy, pid.mutual_information
    )
    assert torch.min(pid.unique) == 0
    # WMS = synergy - redundancy for two sources.
    torch.testing.assert_close(gaussian_wms(cov, sources, target), pid.synergy - pid.redundancy)
    # Barrett (2015): with MMI the synergy is never negative for Gaussians.
    assert pid.synergy >= -1e-12


def test_gaussian_closed_forms_gradcheck():
    gen = torch.Generator().manual_seed(30)
    a = torch.randn(2, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)

    def cov_of(x):  # symmetric positive definite for any x, so perturbations stay valid
        return x @ x.mT + 0.5 * torch.eye(4, dtype=torch.float64)

    assert torch.autograd.gradcheck(lambda x: gaussian_entropy(cov_of(x)), (a,))
    assert torch.autograd.gradcheck(
        lambda x: gaussian_mutual_information(cov_of(x), [0, 1], 3), (a,)
    )
    assert torch.autograd.gradcheck(lambda x: gaussian_wms(cov_of(x), [0, 1], [2, 3]), (a,))

    def pid_atoms(x):
        pid = gaussian_mmi_pid(cov_of(x), [0, 1], 3)
        return torch.cat([pid.redundancy[:, None], pid.unique, pid.synergy[:, None]], dim=1)

    assert torch.autograd.gradcheck(pid_atoms, (a,))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_closed_forms_keep_dtype_and_device(dtype, device):
    cov = _random_cov(3, seed=31, dtype=dtype).to(device)
    outs = [
        gaussian_entropy(cov),
        gaussian_mutual_information(cov, 0, [1, 2]),
        gaussian_wms(cov, [0, 1], 2),
        gaussian_mmi_pid(cov, [0, 1], 2).synergy,
    ]
    for out in outs:
        assert out.dtype == dtype
        assert out.device.type == device


def test_gaussian_closed_forms_errors():
    cov = _random_cov(3)
    singular = torch.ones(3, 3, dtype=torch.float64)
    with pytest.raises(InvalidDistributionError, match=r"`cov`.*positive definite"):
        gaussian_entropy(singular)
    neg = -torch.eye(2, dtype=torch.float64)
    with pytest.raises(InvalidDistributionError, match=r"`cov`.*positive definite"):
        gaussian_mutual_information(neg, 0, 1)
    asym = cov.clone()
    asym[0, 1] += 0.5
    with pytest.raises(InvalidDistributionError, match=r"`cov`.*symmetric"):
        gaussian_entropy(asym)
    with pytest.raises(InvalidParameterError, match=r"`cov`.*square"):
        gaussian_entropy(torch.ones(2, 3, dtype=torch.float64))
    nan = cov.clone()
    nan[1, 1] = float("nan")
    with pytest.raises(InvalidDistributionError, match=r"`cov`.*finite"):
        gaussian_entropy(nan)
    with pytest.raises(InvalidParameterError, match=r"`base`"):
        gaussian_entropy(cov, base=1)
    with pytest.raises(InvalidParameterError, match=r"`b`.*disjoint"):
        gaussian_mutual_information(cov, [0, 1], [1, 2])
    with pytest.raises(InvalidParameterError, match=r"`a`.*non-empty"):
        gaussian_mutual_information(cov, [], [1, 2])
    with pytest.raises(InvalidParameterError, match=r"`target`.*disjoint"):
        gaussian_wms(cov, [0, 1], 1)
    with pytest.raises(InvalidParameterError, match=r"`sources`.*disjoint"):
        gaussian_wms(cov, [[0, 1], [1]], 2)
    with pytest.raises(InvalidParameterError, match=r"`sources`.*two"):
        gaussian_mmi_pid(_random_cov(4), [0, 1, 2], 3)
    with pytest.raises(InvalidParameterError, match=r"`sources`.*indices in"):
        gaussian_mmi_pid(cov, [0, 7], 2)


# --- inputs at the edges of the dtype --------------------------------------------------


def _kl_float64(mu, logvar):
    # The closed form KL = 0.5 (mu^2 + e^v - 1 - v) per dimension, in numpy float64.
    mu, logvar = np.asarray(mu, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    return 0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar)


def test_one_overflowed_kl_dimension_leaves_the_other_subsets_finite():
    # logvar = 100: e^100 = 2.7e43 overflows float32, so that dimension's KL is inf; the
    # subsets without it must still come out as their float64 values.
    mu = torch.tensor([[0.5, 1.0, -2.0], [0.0, 0.3, 1.0]])
    logvar = torch.tensor([[100.0, 0.2, -0.1], [0.0, 0.0, 0.5]])
    kl64 = _kl_float64(mu, logvar)  # dimension 0 finite (1.3e43) in float64
    subsets = [[1], [2], [1, 2]]
    means = [kl64[:, s].sum(1).mean() for s in subsets]
    out = latent_i_max(mu, logvar, subsets)
    np.testing.assert_allclose(float(out), max(means), rtol=1e-6)
    out = latent_i_max(mu, logvar, subsets, reduce="min", outcome_wise=True)
    np.testing.assert_allclose(
        float(out), np.mean([min(kl64[b, s].sum() for s in subsets) for b in range(2)]), rtol=1e-6
    )
    # S_max with a subset that holds the overflowed dimension: whole minus the largest
    # subset, which in float64 is the KL of dimensions 1 and 2 against the subset [0].
    # (In float64 the direct difference whole - best loses it: 1.3e43 - 1.3e43.)
    s_max = latent_s_max(mu, logvar, [[0], [1]])
    np.testing.assert_allclose(float(s_max), kl64[:, [1, 2]].sum(1).mean(), rtol=1e-6)
    # The subsets that hold dimension 0 are inf, not NaN.
    assert torch.isinf(latent_i_max(mu, logvar, [[0], [1]]))


def test_latent_s_max_equals_whole_minus_i_max_in_float64():
    # whole - max_i K(A_i) is computed as min_i K(complement): check the identity against
    # the direct difference on float64 values far from overflow.
    gen = torch.Generator().manual_seed(5)
    mu = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    logvar = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    kl64 = _kl_float64(mu, logvar)
    subsets = [[0, 1], [2], [3, 4, 0]]
    for reduce in ("max", "min"):
        for outcome_wise in (False, True):
            per = np.stack([kl64[:, s].sum(1) for s in subsets], axis=1)
            pick = np.max if reduce == "max" else np.min
            i = pick(per, axis=1).mean() if outcome_wise else pick(per.mean(0))
            expected = kl64.sum(1).mean() - i
            out = latent_s_max(mu, logvar, subsets, reduce=reduce, outcome_wise=outcome_wise)
            np.testing.assert_allclose(float(out), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_closed_forms_compute_half_precision_in_float32(dtype):
    cov = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 2.25]], dtype=dtype)
    c64 = cov.to(torch.float64)  # the same (exactly representable) numbers in float64
    np64 = c64.numpy()
    # h = 0.5 log2 det(2 pi e cov), from numpy's determinant (Cover & Thomas, Thm 8.4.1).
    h = 0.5 * np.log2(np.linalg.det(2 * np.pi * np.e * np64))
    out = gaussian_entropy(cov)
    assert out.dtype == dtype
    np.testing.assert_allclose(float(out), h, rtol=1e-2)
    # I(X1 X2; Y) = 0.5 log2(det S_X det S_Y / det S) from numpy determinants.
    mi = 0.5 * np.log2(np.linalg.det(np64[:2, :2]) * np64[2, 2] / np.linalg.det(np64))
    out = gaussian_mutual_information(cov, [0, 1], 2)
    assert out.dtype == dtype
    np.testing.assert_allclose(float(out), mi, rtol=1e-2)
    assert gaussian_wms(cov, [0, 1], 2).dtype == dtype
    pid = gaussian_mmi_pid(cov, [0, 1], 2)
    assert pid.synergy.dtype == dtype
    assert pid.unique.dtype == dtype
    np.testing.assert_allclose(
        float(pid.synergy), float(gaussian_mmi_pid(c64, [0, 1], 2).synergy), rtol=1e-2
    )
    assert gaussian_entropy(cov, validate=False).dtype == dtype


_RANK_2 = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]  # X3 = 2 X2 - X1
_RANK_2_FRACTIONS = [[1.0, 0.0], [0.0, 1.0], [0.1, 0.7]]  # X3 = 0.1 X1 + 0.7 X2


@pytest.mark.parametrize(
    ("dtype", "factor"),
    [
        (torch.float32, _RANK_2),
        (torch.float64, _RANK_2),
        (torch.float32, _RANK_2_FRACTIONS),
    ],
)
def test_singular_covariances_are_refused_where_cholesky_succeeds_by_rounding(dtype, factor):
    a = torch.tensor(factor, dtype=dtype)
    cov = a @ a.T  # rank 2 of 3: det = 0, so h = -inf and no finite answer is right
    # The case at stake: the factorisation succeeds by rounding alone.
    assert int(torch.linalg.cholesky_ex(cov).info) == 0
    with pytest.raises(InvalidDistributionError, match=r"`cov`.*positive definite"):
        gaussian_entropy(cov)
    with pytest.raises(InvalidDistributionError, match=r"`cov`.*positive definite"):
        gaussian_wms(cov, [0, 1], 2)


def test_near_singular_but_well_scaled_covariances_are_accepted():
    # diag(1, 1e-10) is well conditioned once each variable is scaled: h is exact.
    cov = torch.diag(torch.tensor([1.0, 1e-10], dtype=torch.float64))
    h = 0.5 * math.log2((2 * math.pi * math.e) ** 2 * 1e-10)  # det of a diagonal matrix
    np.testing.assert_allclose(float(gaussian_entropy(cov)), h, rtol=1e-12)


def test_greedy_best_subset_refuses_an_empty_kl_vector():
    with pytest.raises(InvalidParameterError, match=r"`kl` .*no latent dimensions"):
        greedy_best_subset(torch.zeros(0), 0.9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_random_rank_deficient_covariances_are_all_refused(dtype):
    # A A^T with A of shape (3, 2) has rank 2: h = -inf. Before the singularity check,
    # 87 of 200 such float32 matrices (76 of 200 in float64) passed Cholesky by rounding
    # and got a finite entropy; about half of them now take the eigenvalue path.
    gen = torch.Generator().manual_seed(11)
    for _ in range(100):
        a = torch.randn(3, 2, generator=gen, dtype=dtype)
        cov = a @ a.T
        with pytest.raises(InvalidDistributionError, match=r"`cov`.*positive definite"):
            gaussian_entropy(0.5 * (cov + cov.T))
