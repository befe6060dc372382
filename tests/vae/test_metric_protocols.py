"""The metrics' default protocols against transcriptions of the published code.

FactorVAE score: disentanglement_lib's ``evaluation/metrics/factor_vae.py`` with the published
study's settings (``unsupervised_study_v1``: batch 64, 10,000 / 5,000 votes, 10,000 points for
the variances, ``prune_dims.threshold = 0.05``). Chen's MIG: ``estimate_entropies`` and
``mutual_info_metric_shapes`` of Chen et al.'s beta-TCVAE code (``elbo_decomposition`` /
``disentanglement_metrics.py``), in numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from synergy.vae.data import DSprites
from synergy.vae.metrics import factor_vae_score

GRID = {"scale": 3, "orientation": 4, "posX": 4, "posY": 4}
FACTORS = ("shape", "scale", "orientation", "posX", "posY")


@pytest.fixture(scope="module")
def data():
    return DSprites(factors=GRID)


def collapsed_code(data):
    """Five latents, one per factor (standardised class), posY's shrunk to std ~0.004."""
    rng = np.random.default_rng(7)
    classes = data.factors_of(np.arange(len(data)))[:, 1:].astype(np.float64)
    code = (classes - classes.mean(0)) / classes.std(0)
    code += 0.05 * rng.standard_normal(code.shape)  # a little noise on every latent
    code[:, 4] = 0.004 * (classes[:, 4] - classes[:, 4].mean()) / classes[:, 4].std()

    def encode(idx):
        return code[idx], np.zeros((len(idx), 5))

    return encode


def dlib_factor_vae(encode, data, random_state, *, batch_size, num_train, num_eval, num_var):
    """disentanglement_lib's compute_factor_vae, transcribed; factors = the 5 varying ones."""
    sizes = [data.sizes[1 + k] for k in range(5)]

    def observations(factors):
        positions = np.zeros((len(factors), 6), dtype=np.int64)
        positions[:, 1:] = factors
        return data.index_of(positions)

    def sample_factors(n):
        return np.stack([random_state.randint(s, size=n) for s in sizes], axis=1)

    reps = encode(observations(sample_factors(num_var)))[0]
    global_variances = np.var(reps, axis=0, ddof=1)  # _compute_variances
    active_dims = np.sqrt(global_variances) >= 0.05  # _prune_dims(threshold=0.05)
    if not active_dims.any():
        return 0.0

    def batch(num_points):  # _generate_training_batch
        votes = np.zeros((5, global_variances.shape[0]), dtype=np.int64)
        for _ in range(num_points):
            factor_index = random_state.randint(5)
            factors = sample_factors(batch_size)
            factors[:, factor_index] = factors[0, factor_index]
            local_variances = np.var(encode(observations(factors))[0], axis=0, ddof=1)
            argmin = np.argmin(local_variances[active_dims] / global_variances[active_dims])
            votes[factor_index, argmin] += 1
        return votes

    training_votes = batch(num_train)
    classifier = np.argmax(training_votes, axis=0)
    other_index = np.arange(training_votes.shape[1])
    eval_votes = batch(num_eval)
    return np.sum(eval_votes[classifier, other_index]) / np.sum(eval_votes)


def test_factor_vae_default_is_disentanglement_libs_published_protocol(data):
    encode = collapsed_code(data)
    ours = factor_vae_score(encode, data, seed=0)
    theirs = dlib_factor_vae(
        encode,
        data,
        np.random.RandomState(0),
        batch_size=64,
        num_train=10_000,
        num_eval=5_000,
        num_var=10_000,
    )
    # Independent random streams: 5,000 evaluation votes give a standard error of about
    # sqrt(0.79 * 0.21 / 5000) = 0.006 each (both score about 0.79 here: 0.7908 and 0.7946
    # at these seeds), so 0.03 is more than three standard errors of the difference.
    assert ours == pytest.approx(theirs, abs=0.03)
    # posY's latent is pruned (std 0.004 < 0.05): its votes land on other latents, so the
    # score stays well below 1 (about 4/5 plus chance hits), unlike the fast protocol.
    assert ours < 0.9
    assert factor_vae_score(encode, data, protocol="fast", seed=0) == pytest.approx(1.0)


def test_factor_vae_rejects_unknown_protocol(data):
    from synergy._validate import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="protocol"):
        factor_vae_score(collapsed_code(data), data, protocol="kim")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="batch_size"):
        factor_vae_score(collapsed_code(data), data, batch_size=1)


def chen_estimate_entropies(qz_samples, mu, logvar, n_samples, rng):
    """Chen et al.'s estimate_entropies: E[-log q(z_j)], q(z) = 1/N sum_n q(z|x_n)."""
    order = rng.permutation(len(qz_samples))[:n_samples]  # randperm(S)[:n_samples]
    samples = qz_samples[order]
    entropies = np.zeros(mu.shape[1])
    for k in range(0, len(samples), 10):  # Chen's batches of 10 samples
        zb = samples[k : k + 10]
        logq = -0.5 * (
            math.log(2 * math.pi)
            + logvar[:, None]
            + (zb[None] - mu[:, None]) ** 2 / np.exp(logvar[:, None])
        )  # (N, batch, K): q_dist.log_density of the normal
        entropies += -logsumexp(logq - math.log(len(mu)), axis=0).sum(0)
    return entropies / len(samples)


def chen_mig(mu, logvar, classes, sizes, z):
    """mutual_info_metric_shapes + compute_metric_shapes, for the 4 factors of the grid."""
    marginal = chen_estimate_entropies(z, mu, logvar, 10_000, np.random.default_rng(1))
    cond = np.zeros((4, mu.shape[1]))
    for f in range(4):
        for value in range(sizes[f]):
            rows = classes[:, f] == value
            cond[f] += (
                chen_estimate_entropies(
                    z[rows], mu[rows], logvar[rows], 10_000, np.random.default_rng(1)
                )
                / sizes[f]
            )
    mutual_infos = np.sort(marginal[None] - cond, axis=1)[:, ::-1].clip(min=0)
    mi_normed = mutual_infos / np.log(np.array(sizes, dtype=np.float64))[:, None]
    return float(np.mean(mi_normed[:, 0] - mi_normed[:, 1]))


def test_chen_mig_default_is_chens_estimator_on_every_image(data):
    from synergy.vae.metrics import mig

    # A noisy, partly entangled code: posterior means mix the factors, unit-ish variances.
    rng = np.random.default_rng(3)
    classes = data.factors_of(np.arange(len(data)))[:, 2:].astype(np.int64)  # 4 factors
    standard = (classes - classes.mean(0)) / classes.std(0)
    mixing = np.eye(4, 5) + 0.3 * rng.standard_normal((4, 5))
    mu_all = standard @ mixing
    logvar_all = np.log(0.2 + 0.3 * rng.random(mu_all.shape))

    def encode(idx):
        return mu_all[idx], logvar_all[idx]

    ours = mig(encode, data, seed=11)
    # The one input the two share: one code per image from the seed's first normal draw.
    z = mu_all + np.exp(0.5 * logvar_all) * np.random.default_rng(11).standard_normal(mu_all.shape)
    sizes = [GRID[name] for name in ("scale", "orientation", "posX", "posY")]
    # Every group here is smaller than Chen's 10,000 samples, so no subsampling happens and
    # the two agree to rounding.
    assert ours.score == pytest.approx(chen_mig(mu_all, logvar_all, classes, sizes, z), abs=1e-10)
    assert 0.05 < ours.score < 0.95  # neither trivial nor perfect: a discriminating input


def dlib_mig(mus, ys, num_bins=20):
    """disentanglement_lib's mig._compute_mig with utils.make_discretizer (histogram) and
    sklearn's mutual_info_score written out; mus (D, N), ys (K, N), nats."""

    def mutual_info_score(a, b):
        _, ia = np.unique(a, return_inverse=True)
        _, ib = np.unique(b, return_inverse=True)
        joint = np.zeros((ia.max() + 1, ib.max() + 1))
        np.add.at(joint, (ia, ib), 1.0)
        joint /= joint.sum()
        outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
        nz = joint > 0
        return float(np.sum(joint[nz] * np.log(joint[nz] / outer[nz])))

    discretized = np.zeros_like(mus, dtype=np.int64)
    for i in range(mus.shape[0]):  # _histogram_discretize
        discretized[i] = np.digitize(mus[i], np.histogram(mus[i], num_bins)[1][:-1])
    m = np.array(
        [
            [mutual_info_score(ys[j], discretized[i]) for j in range(len(ys))]
            for i in range(len(mus))
        ]
    )
    entropy = np.array([mutual_info_score(ys[j], ys[j]) for j in range(len(ys))])
    sorted_m = np.sort(m, axis=0)[::-1]
    return float(np.mean((sorted_m[0] - sorted_m[1]) / entropy))


def test_dlib_mig_reproduces_disentanglement_lib_on_the_same_codes(data):
    from synergy.vae.metrics import mig

    rng = np.random.default_rng(4)
    classes = data.factors_of(np.arange(len(data)))[:, 1:].astype(np.float64)  # 5 factors
    mu_all = (classes - classes.mean(0)) @ (np.eye(5, 6) + 0.15 * rng.standard_normal((5, 6)))

    def encode(idx):
        return mu_all[idx], np.zeros((len(idx), 6))

    ours = mig(encode, data, protocol="dlib", n_points=None).score
    theirs = dlib_mig(mu_all.T, classes.T.astype(np.int64))
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert 0.05 < ours < 0.95
