"""Estimators from samples: Miller-Madow, bootstrap intervals, permutation tests, errors.

Statistical checks are seeded (so they are deterministic) and their tolerances are stated.
"""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtr, ndtri

import synergy
from synergy import InvalidParameterError, InvalidTypeError
from synergy.estimators import (
    Estimate,
    _permutation,
    _samples,
    bootstrap,
    estimate,
    miller_madow_entropy,
    miller_madow_mutual_information,
    permutation_test,
)
from synergy.estimators.discrete import DecompositionEstimate, estimate_decomposition
from synergy.tables import from_samples

LN2 = math.log(2.0)


def _sample(p, n, rng):
    """n samples of the joint table p, as one integer column per axis."""
    flat = rng.choice(p.size, size=n, p=p.ravel())
    return np.unravel_index(flat, p.shape)


def _xor_columns(n, seed):
    rng = np.random.default_rng(seed)
    x1, x2, noise = rng.integers(0, 2, size=(3, n))
    return x1, x2, x1 ^ x2, noise


def _table(columns, shape):
    """The plug-in table on a fixed label space (labels 0..shape[i]-1)."""
    counts = np.zeros(shape)
    np.add.at(counts, tuple(columns), 1.0)
    return counts / counts.sum()


# --------------------------------------------------------------------------- Miller-Madow


def test_miller_madow_entropy_by_hand():
    # Two equiprobable symbols in 4 samples: H = 1 bit, m = 2, N = 4, so the correction is
    # (2 - 1) / (2 * 4) nats = 1 / (8 ln 2) bits (Miller 1955).
    np.testing.assert_allclose(
        miller_madow_entropy([0, 0, 1, 1]), 1.0 + 1.0 / (8 * LN2), rtol=1e-14
    )
    np.testing.assert_allclose(
        miller_madow_entropy([0, 0, 1, 1], base=math.e), LN2 + 1.0 / 8, rtol=1e-14
    )
    # Joint of two columns: 3 occupied cells of 4 in 6 samples.
    x = [0, 0, 1, 1, 1, 0]
    y = [0, 1, 1, 1, 1, 0]
    table, _ = from_samples(x, y)
    expected = synergy.entropy(table) + (3 - 1) / (2 * 6 * LN2)
    assert np.count_nonzero(table) == 3
    np.testing.assert_allclose(miller_madow_entropy(x, y), expected, rtol=1e-14)


def test_miller_madow_mutual_information_by_hand():
    # I_MM = H_MM(X) + H_MM(Y) - H_MM(X, Y) = I + (m_x + m_y - m_xy - 1) / (2N) nats.
    x1 = [0, 1, 0, 1, 0, 1, 1, 0]
    x2 = [0, 0, 1, 1, 0, 0, 1, 1]
    y = [0, 1, 1, 0, 1, 1, 0, 0]
    table, _ = from_samples(x1, x2, y)
    m_x = np.count_nonzero(table.sum(axis=2))
    m_y = np.count_nonzero(table.sum(axis=(0, 1)))
    m_xy = np.count_nonzero(table)
    expected = synergy.mutual_information(table) + (m_x + m_y - m_xy - 1) / (2 * 8 * LN2)
    np.testing.assert_allclose(miller_madow_mutual_information(x1, x2, y), expected, rtol=1e-13)
    hx = miller_madow_entropy(x1, x2)
    hy = miller_madow_entropy(y)
    hxy = miller_madow_entropy(x1, x2, y)
    np.testing.assert_allclose(
        miller_madow_mutual_information(x1, x2, y), hx + hy - hxy, rtol=1e-13
    )


def test_estimate_miller_madow_matches_the_functions_and_wms_is_a_sum_of_mis():
    x1, x2, y, _ = _xor_columns(60, seed=4)
    y = np.where(np.arange(60) % 7 == 0, 1 - y, y)  # some noise so nothing is exact
    mi = estimate("mutual_information", x1, x2, y, correction="miller-madow", n_bootstrap=1)
    np.testing.assert_allclose(mi.value, miller_madow_mutual_information(x1, x2, y), rtol=1e-13)
    h = estimate("entropy", x1, x2, correction="miller-madow", n_bootstrap=1)
    np.testing.assert_allclose(h.value, miller_madow_entropy(x1, x2), rtol=1e-13)
    w = estimate("wms", x1, x2, y, correction="miller-madow", n_bootstrap=1)
    expected = (
        miller_madow_mutual_information(x1, x2, y)
        - miller_madow_mutual_information(x1, y)
        - miller_madow_mutual_information(x2, y)
    )
    np.testing.assert_allclose(w.value, expected, rtol=1e-12)
    # H(Y | X1) = H(X1, Y) - H(X1) under Miller-Madow too.
    ce = estimate(
        "conditional_entropy", x1, y, correction="miller-madow", n_bootstrap=1, axes=1, given=0
    )
    np.testing.assert_allclose(
        ce.value, miller_madow_entropy(x1, y) - miller_madow_entropy(x1), rtol=1e-12
    )
    assert w.plugin == pytest.approx(synergy.wms(from_samples(x1, x2, y)[0]), abs=1e-14)


def test_miller_madow_reduces_the_bias_of_the_plugin_entropy():
    # 8 symbols, N = 40: the plug-in bias is about -(m - 1) / (2 N ln 2) = -0.126 bits.
    # Over 400 seeded repetitions the standard error of each mean is about 0.008 bits, so
    # the margins below (plug-in at least 0.08 bits low; Miller-Madow bias under a third
    # of the plug-in's) leave more than 4 standard errors of room.
    p = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])
    truth = synergy.entropy(p)
    rng = np.random.default_rng(2024)
    n, reps = 40, 400
    samples = rng.choice(p.size, size=(reps, n), p=p)
    counts = np.stack([np.bincount(row, minlength=p.size) for row in samples])
    plugin = synergy.entropy(counts / n, batch_ndim=1)
    mm = np.array([miller_madow_entropy(row) for row in samples])
    plugin_bias = plugin.mean() - truth
    mm_bias = mm.mean() - truth
    assert plugin_bias < -0.08
    assert abs(mm_bias) < abs(plugin_bias) / 3


# --------------------------------------------------------------------------- bootstrap


def test_percentile_interval_covers_the_entropy_at_the_stated_rate():
    # Entropy of a 4-symbol law from N = 500 samples: the plug-in bias (-0.004 bits) is a
    # tenth of the standard error (0.04 bits), so a percentile interval is honest here.
    # 200 seeded repetitions; the coverage must fall in the central 99.9% binomial range
    # for a true rate of 0.95: [0.90, 0.985] (scipy.stats.binom.interval(0.999, 200, 0.95)).
    # It measured 0.935 (numpy 2.4, these seeds; 0.93 with resampling="indices"): percentile
    # intervals undercover a little at this N.
    p = np.array([0.4, 0.3, 0.2, 0.1])
    truth = synergy.entropy(p)
    rng = np.random.default_rng(12345)
    reps = 200
    hits = 0
    for r in range(reps):
        (x,) = _sample(p, 500, rng)
        low, high = bootstrap("entropy", x, n_resamples=1000, seed=r).interval
        hits += low <= truth <= high
    low_ok, high_ok = stats.binom.interval(0.999, reps, 0.95)
    assert low_ok <= hits <= high_ok, f"coverage {hits / reps}"


@pytest.mark.parametrize(
    ("method", "correction"),
    [("bca", None), ("bca", "miller-madow"), ("percentile", "miller-madow")],
)
def test_interval_covers_the_mutual_information_at_the_stated_rate(method, correction):
    # I(X; Y) of a 2 x 2 table with 0.19 bits, N = 300. Same tolerance as above.
    # Measured coverages (numpy 2.4, these seeds): bca 0.935, bca + MM 0.935, percentile + MM
    # 0.925 (plain percentile: 0.925).
    p = np.array([[0.35, 0.15], [0.1, 0.4]])
    truth = synergy.mutual_information(p)
    rng = np.random.default_rng(12345)
    reps = 200
    hits = 0
    for r in range(reps):
        x, y = _sample(p, 300, rng)
        est = bootstrap("mutual_information", x, y, method=method, correction=correction, seed=r)
        hits += est.interval[0] <= truth <= est.interval[1]
    low_ok, high_ok = stats.binom.interval(0.999, reps, 0.95)
    assert low_ok <= hits <= high_ok, f"coverage {hits / reps}"


def test_batched_bootstrap_equals_a_loop_over_resamples():
    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(12)).reshape(2, 3, 2)
    cols = _sample(p, 80, rng)
    n_resamples = 40
    est = bootstrap(
        "s_max",
        *cols,
        n_resamples=n_resamples,
        resampling="indices",
        seed=np.random.default_rng(3),
    )
    assert est.resampling == "indices"
    idx = np.random.default_rng(3).integers(0, 80, size=(n_resamples, 80))
    shape = tuple(int(c.max()) + 1 for c in cols)
    slow = [synergy.s_max(_table([c[i] for c in cols], shape)) for i in idx]
    np.testing.assert_allclose(est.bootstrap_values, slow, rtol=1e-12, atol=1e-14)
    # Miller-Madow resamples: each is the public function on the resampled columns.
    est = bootstrap(
        "mutual_information",
        *cols,
        n_resamples=n_resamples,
        correction="miller-madow",
        resampling="indices",
        seed=np.random.default_rng(3),
    )
    slow = [miller_madow_mutual_information(*(c[i] for c in cols)) for i in idx]
    np.testing.assert_allclose(est.bootstrap_values, slow, rtol=1e-12, atol=1e-14)


def test_unbatched_callables_and_chunking_give_the_batched_values(monkeypatch):
    cols = _xor_columns(50, seed=1)[:3]
    batched = bootstrap("s_max", *cols, n_resamples=30, seed=5)

    def plain_s_max(p):  # no batch_ndim: evaluated one resample at a time
        return synergy.s_max(p)

    looped = bootstrap(plain_s_max, *cols, n_resamples=30, seed=5)
    np.testing.assert_allclose(looped.bootstrap_values, batched.bootstrap_values, rtol=1e-12)
    # Chunks of 3 resamples draw the same stream as one block of 30.
    monkeypatch.setattr(_samples, "_CHUNK_ELEMENTS", 150)
    chunked = bootstrap("s_max", *cols, n_resamples=30, seed=5)
    np.testing.assert_array_equal(chunked.bootstrap_values, batched.bootstrap_values)
    perm = permutation_test("s_max", *cols, n_permutations=30, seed=5)
    monkeypatch.setattr(_samples, "_CHUNK_ELEMENTS", 1 << 22)
    np.testing.assert_array_equal(
        permutation_test("s_max", *cols, n_permutations=30, seed=5).null_values, perm.null_values
    )


def test_multinomial_and_index_resampling_agree_in_law():
    # Both make bootstrap count tables with the law Multinomial(n, p_hat). Over 4000
    # resamples the means of the plug-in MI agree to within 4 standard errors of their
    # difference and the standard deviations to within 10%.
    rng = np.random.default_rng(21)
    p = np.array([[0.3, 0.1, 0.05], [0.05, 0.2, 0.3]])
    cols = _sample(p, 400, rng)
    by_index = bootstrap(
        "mutual_information", *cols, n_resamples=4000, resampling="indices", seed=0
    )
    by_count = bootstrap(
        "mutual_information", *cols, n_resamples=4000, resampling="tables", seed=0
    )
    assert by_count.resampling == "tables"
    assert estimate("mutual_information", *cols, n_bootstrap=2, seed=0).resampling == (
        "tables"  # auto: n = 400 > 6 cells
    )
    a, b = by_index.bootstrap_values, by_count.bootstrap_values
    se = math.sqrt(a.var() / a.size + b.var() / b.size)
    assert abs(a.mean() - b.mean()) < 4 * se
    np.testing.assert_allclose(a.std(), b.std(), rtol=0.1)
    # A label seen once is often absent from a multinomial resample too: the shape stays.
    x = [0] * 29 + [1]
    y = [0] * 15 + [1] * 14 + [1]
    rare = bootstrap("mutual_information", x, y, n_resamples=200, resampling="tables")
    assert np.isfinite(rare.bootstrap_values).all()


def test_label_space_stays_fixed_across_resamples():
    # A rare label (one sample of 30) is absent from many resamples; the table keeps its
    # axis, so every resample table has the full shape and the values stay finite.
    x = [0] * 29 + [1]
    y = [0] * 15 + [1] * 14 + [1]
    est = bootstrap("mutual_information", x, y, n_resamples=200, seed=0)
    assert np.isfinite(est.bootstrap_values).all()
    assert (est.bootstrap_values >= -1e-12).all()


def test_bca_matches_a_per_sample_jackknife():
    # Efron & Tibshirani (1993), eqs. 14.14-14.15, with one leave-one-out fit per sample
    # (not per occupied cell as the library does) and the library's bootstrap values.
    rng = np.random.default_rng(11)
    x = rng.choice(5, size=60, p=[0.4, 0.25, 0.15, 0.15, 0.05])
    level = 0.9
    est = bootstrap("entropy", x, n_resamples=500, method="bca", level=level, seed=2)
    boot = est.bootstrap_values
    theta = est.value
    jack = np.array([synergy.entropy(from_samples(np.delete(x, i))[0]) for i in range(x.size)])
    d = jack.mean() - jack
    accel = np.sum(d**3) / (6 * np.sum(d**2) ** 1.5)
    z0 = ndtri((np.sum(boot < theta) + np.sum(boot <= theta)) / (2 * boot.size))
    z = ndtri(np.array([(1 - level) / 2, (1 + level) / 2]))
    probs = ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z)))
    np.testing.assert_allclose(est.interval, np.quantile(boot, probs), rtol=1e-12)


def test_basic_interval_and_bootstrap_correction():
    cols = _xor_columns(100, seed=2)[:3]
    pct = bootstrap("s_max", *cols, n_resamples=300, seed=1)
    basic = bootstrap("s_max", *cols, n_resamples=300, method="basic", seed=1)
    np.testing.assert_allclose(
        basic.interval, (2 * pct.value - pct.interval[1], 2 * pct.value - pct.interval[0])
    )
    corrected = bootstrap("s_max", *cols, n_resamples=300, correction="bootstrap", seed=1)
    np.testing.assert_allclose(corrected.value, 2 * pct.plugin - pct.bootstrap_values.mean())
    np.testing.assert_allclose(
        corrected.standard_error, np.std(pct.bootstrap_values, ddof=1), rtol=1e-12
    )


# --------------------------------------------------------------------------- permutations


@pytest.mark.parametrize("resampling", ["indices", "tables"])
@pytest.mark.parametrize("measure", ["s_max", "wms", "mutual_information"])
def test_permutation_p_value_is_small_for_xor(measure, resampling):
    # XOR of fair bits has 1 bit of synergy; no shuffle of 200 samples reaches it, so the
    # p-value is the smallest possible, 1 / (199 + 1).
    x1, x2, y, _ = _xor_columns(200, seed=0)
    result = permutation_test(
        measure, x1, x2, y, n_permutations=199, seed=0, resampling=resampling
    )
    assert result.resampling == resampling
    assert result.p_value == pytest.approx(1 / 200)
    assert result.null_values.shape == (199,)
    assert result.null_values.max() < result.value


def test_permutation_p_values_are_roughly_uniform_for_an_independent_target():
    # Y independent of (X1, X2): under the null the p-value is (super-)uniform. Over 100
    # seeded repetitions, with 99 shuffles each, at most 13 p-values may be <= 0.05 (the
    # 0.999 quantile of Binomial(100, 0.05)), at most 6 below 0.01, and the mean must sit
    # near 1/2 (uniform mean 0.5, sd of the mean 0.029: we allow 0.38..0.62).
    p_values = []
    for r in range(100):
        x1, x2, _, noise = _xor_columns(120, seed=1000 + r)
        p_values.append(
            permutation_test("s_max", x1, x2, noise, n_permutations=99, seed=r).p_value
        )
    p_values = np.array(p_values)
    assert np.count_nonzero(p_values <= 0.05) <= stats.binom.ppf(0.999, 100, 0.05)
    assert np.count_nonzero(p_values < 0.01) <= 6
    assert 0.38 <= p_values.mean() <= 0.62


def test_permuted_indices_and_random_tables_agree_in_law():
    # Shuffling Y and drawing a contingency table with the observed margins give the same
    # law of null tables. Over 4000 draws each the means of the null MI agree to within 4
    # standard errors of their difference, the standard deviations to within 10%, and the
    # p-values to within 0.03 (their Monte Carlo sd is about 0.007 each).
    rng = np.random.default_rng(5)
    p = np.array([[0.2, 0.15, 0.1], [0.1, 0.15, 0.3]])
    cols = _sample(p, 150, rng)
    by_index = permutation_test(
        "mutual_information", *cols, n_permutations=4000, resampling="indices", seed=0
    )
    by_table = permutation_test(
        "mutual_information", *cols, n_permutations=4000, resampling="tables", seed=0
    )
    a, b = by_index.null_values, by_table.null_values
    se = math.sqrt(a.var() / a.size + b.var() / b.size)
    assert abs(a.mean() - b.mean()) < 4 * se
    np.testing.assert_allclose(a.std(), b.std(), rtol=0.1)
    assert abs(by_index.p_value - by_table.p_value) < 0.03
    # Null tables keep both margins: the target's marginal entropy never changes.
    h_y = permutation_test("entropy", *cols[:1], cols[1], n_permutations=50, axes=1, seed=0)
    np.testing.assert_allclose(h_y.null_values, h_y.value, rtol=1e-12)


def test_random_tables_keep_both_margins_even_where_scipy_does_not():
    # scipy 1.17's Patefield sampler returns negative counts for a single row or column and
    # for zero margins (checked by hand: random_table([5], [2, 3]) gave [[2, -2]]); the
    # helper must return valid tables with the observed margins in every such case.
    rng = np.random.default_rng(17)
    for _ in range(300):
        n_rows, n_cols = rng.integers(1, 5, size=2)
        joint = rng.integers(0, 4, size=(n_rows, n_cols)) * (rng.random((n_rows, n_cols)) < 0.6)
        if joint.sum() == 0:
            continue
        tables = _permutation._random_tables(joint.astype(float), 4, rng)
        assert tables.shape == (4, n_rows, n_cols)
        assert (tables >= 0).all()
        np.testing.assert_array_equal(
            tables.sum(axis=2), np.broadcast_to(joint.sum(1), (4, n_rows))
        )
        np.testing.assert_array_equal(
            tables.sum(axis=1), np.broadcast_to(joint.sum(0), (4, n_cols))
        )


class _CountsProbe:
    """A statistic that hands back the count tables themselves, to inspect the null."""

    def statistic(self, counts, n_total, *, corrected):
        return counts.reshape(counts.shape[0], -1)


@pytest.mark.parametrize("resampling", ["indices", "tables"])
def test_stratified_shuffles_keep_each_strata_margins(resampling):
    # Shuffling Y within the cells of C keeps the (A, C) and the (C, Y) margins; a global
    # shuffle keeps only the sources' joint and Y's marginal.
    rng = np.random.default_rng(3)
    a, c, y = rng.integers(0, 3, size=(3, 90))
    y = np.where(rng.random(90) < 0.5, c % 2, y)  # Y depends on C
    samples = _samples._encode_columns([a, c, y], "test")
    observed = samples.counts()
    null = _permutation._null_values(
        _CountsProbe(), samples, 25, np.random.default_rng(0), resampling, strata=(1,)
    ).reshape(25, *observed.shape)
    np.testing.assert_array_equal(null.sum(axis=3), np.broadcast_to(observed.sum(2), (25, 3, 3)))
    np.testing.assert_array_equal(null.sum(axis=1), np.broadcast_to(observed.sum(0), (25, 3, 3)))
    assert not (null == observed).all()


@pytest.mark.parametrize("resampling", ["indices", "tables"])
def test_conditional_mi_permutation_test_shuffles_within_the_given_cells(resampling):
    # H0 true: A and Y both follow C (so they are dependent) but A is independent of Y
    # given C. The p-values of I(A; Y | C) must stay valid: over 60 seeded repetitions at
    # most 9 may be <= 0.05 (the 0.999 quantile of Binomial(60, 0.05)).
    small = 0
    for r in range(60):
        rng = np.random.default_rng(500 + r)
        c = rng.integers(0, 4, size=120)
        a = (c >= 2) ^ (rng.random(120) < 0.2)
        y = (c >= 2) ^ (rng.random(120) < 0.2)
        result = permutation_test(
            "conditional_mutual_information",
            a,
            c,
            y,
            a=0,
            b=2,
            given=1,
            n_permutations=99,
            seed=r,
            resampling=resampling,
        )
        small += result.p_value <= 0.05
    assert small <= stats.binom.ppf(0.999, 60, 0.05)
    # H1: A tells Y something C does not.
    rng = np.random.default_rng(9)
    c, a = rng.integers(0, 2, size=(2, 200))
    y = a ^ (rng.random(200) < 0.1)
    result = permutation_test(
        "conditional_mutual_information", a, c, y, a=0, b=2, given=1, n_permutations=99, seed=0
    )
    assert result.p_value == pytest.approx(0.01)


def test_p_value_form_and_ties():
    # A target that is constant: every shuffle gives the same table, so all n_perm null
    # values tie with the observed one and p = (n_perm + 1) / (n_perm + 1) = 1.
    x = [0, 1, 0, 1, 1]
    y = [3, 3, 3, 3, 3]
    result = permutation_test("mutual_information", x, y, n_permutations=19, seed=0)
    assert result.p_value == 1.0
    less = permutation_test(
        "mutual_information", x, y, n_permutations=19, alternative="less", seed=0
    )
    assert less.p_value == 1.0


# --------------------------------------------------------------------------- seeds, results


def test_reproducible_under_a_seed():
    cols = _xor_columns(80, seed=3)[:3]
    a = estimate("wms", *cols, n_bootstrap=200, n_permutations=50, seed=42)
    b = estimate("wms", *cols, n_bootstrap=200, n_permutations=50, seed=42)
    assert a == b
    np.testing.assert_array_equal(a.bootstrap_values, b.bootstrap_values)
    np.testing.assert_array_equal(a.null_values, b.null_values)
    c = estimate("wms", *cols, n_bootstrap=200, n_permutations=50, seed=43)
    assert not np.array_equal(a.bootstrap_values, c.bootstrap_values)
    # estimate = bootstrap + permutation_test, stream for stream.
    assert bootstrap("wms", *cols, n_resamples=200, seed=42).interval == a.interval
    assert permutation_test("wms", *cols, n_permutations=50, seed=42).p_value == a.p_value
    # Without a seed one is drawn and recorded, and it reproduces the result.
    d = estimate("wms", *cols, n_bootstrap=50)
    assert isinstance(d.seed, int)
    assert estimate("wms", *cols, n_bootstrap=50, seed=d.seed) == d


def test_estimate_fields_repr_and_frozen():
    x1, x2, y, _ = _xor_columns(64, seed=9)
    est = estimate(
        synergy.s_max, x1, x2, y, n_bootstrap=100, n_permutations=9, correction="bootstrap", seed=0
    )
    assert isinstance(est, Estimate)
    assert est.measure == "s_max"
    assert (est.n, est.n_resamples, est.n_permutations, est.seed) == (64, 100, 9, 0)
    assert (est.level, est.method, est.correction, est.alternative) == (
        0.95,
        "percentile",
        "bootstrap",
        "greater",
    )
    assert est.plugin == pytest.approx(synergy.s_max(from_samples(x1, x2, y)[0]), abs=1e-14)
    text = repr(est)
    for piece in ("s_max=", "bits", "95% percentile interval", "p=", "n=64", "seed=0"):
        assert piece in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        est.value = 0.0  # type: ignore[misc]
    perm = permutation_test("s_max", x1, x2, y, n_permutations=9, seed=0)
    assert perm.interval is None
    assert "interval" not in repr(perm)


def test_labels_and_base():
    x1, x2, y, _ = _xor_columns(90, seed=5)
    names = np.array(["lo", "hi"])
    relabelled = (names[x1], list(names[x2]), [("t", v) for v in y])
    a = estimate("s_max", x1, x2, y, n_bootstrap=50, seed=1)
    b = estimate("s_max", *relabelled, n_bootstrap=50, seed=1)
    np.testing.assert_allclose(b.value, a.value, rtol=1e-13)
    # Resample indices do not see the labels; multinomial draws follow the cell order,
    # which relabelling permutes ("hi" sorts before "lo").
    a = estimate("s_max", x1, x2, y, n_bootstrap=50, seed=1, resampling="indices")
    b = estimate("s_max", *relabelled, n_bootstrap=50, seed=1, resampling="indices")
    np.testing.assert_allclose(b.bootstrap_values, a.bootstrap_values, rtol=1e-12)
    nats = estimate("s_max", x1, x2, y, n_bootstrap=50, seed=1, base=math.e, resampling="indices")
    np.testing.assert_allclose(nats.value, a.value * LN2, rtol=1e-12)
    np.testing.assert_allclose(np.array(nats.interval), np.array(a.interval) * LN2, rtol=1e-12)
    assert "nats" in repr(nats)


def test_every_named_measure_runs():
    x1, x2, y, _ = _xor_columns(48, seed=6)
    table = from_samples(x1, x2, y)[0]
    expected = {
        "entropy": synergy.entropy(table),
        "mutual_information": synergy.mutual_information(table),
        "wms": synergy.wms(table),
        "i_max": synergy.i_max(table),
        "s_max": synergy.s_max(table),
        "i_min": synergy.i_min(table),
        "s_vk": synergy.s_vk(table),
        "union_information": synergy.union_information(table).value,
        "pid_synergy": synergy.decompose(table, "imin").synergy,
        "pid_redundancy": synergy.decompose(table, "imin").redundancy,
    }
    for name, value in expected.items():
        n_bootstrap = 3 if name in ("s_vk", "union_information") else 20
        est = estimate(name, x1, x2, y, n_bootstrap=n_bootstrap, seed=0)
        np.testing.assert_allclose(est.value, value, atol=1e-9, err_msg=name)
    unique = estimate("pid_unique", x1, x2, y, n_bootstrap=5, seed=0, pid="imax", source=1)
    np.testing.assert_allclose(
        unique.value, synergy.decompose(table, "imax").unique[1], atol=1e-12
    )
    cmi = estimate("conditional_mutual_information", x1, x2, y, n_bootstrap=5, a=0, b=2, given=1)
    np.testing.assert_allclose(
        cmi.value, synergy.conditional_mutual_information(table, 0, 2, 1), atol=1e-12
    )


# --------------------------------------------------------------------------- decompositions


@pytest.mark.parametrize("measure", ["imin", "imax"])
def test_estimate_decomposition_matches_decompose_and_the_single_atom_names(measure):
    rng = np.random.default_rng(8)
    p = rng.dirichlet(np.ones(12)).reshape(2, 3, 2)
    cols = _sample(p, 150, rng)
    table = from_samples(*cols)[0]
    est = estimate_decomposition(*cols, measure=measure, n_bootstrap=60, n_permutations=19, seed=4)
    assert isinstance(est, DecompositionEstimate)
    reference = synergy.decompose(table, measure)
    for node, value in reference.atoms.items():
        np.testing.assert_allclose(est.atoms[node].value, value, atol=1e-12)
    np.testing.assert_allclose(est.synergy.value, reference.synergy, atol=1e-12)
    np.testing.assert_allclose([u.value for u in est.unique], reference.unique, atol=1e-12)
    np.testing.assert_allclose(
        est.mutual_information.value, synergy.mutual_information(table), atol=1e-12
    )
    # The atoms of each resample sum to that resample's I(X; Y).
    total = sum(a.bootstrap_values for a in est.atoms.values())
    np.testing.assert_allclose(total, est.mutual_information.bootstrap_values, atol=1e-12)
    # Same streams as the one-atom names of estimate().
    single = estimate("pid_synergy", *cols, pid=measure, n_bootstrap=60, n_permutations=19, seed=4)
    np.testing.assert_allclose(est.synergy.bootstrap_values, single.bootstrap_values, atol=1e-12)
    assert est.synergy.p_value == single.p_value
    assert est.synergy.interval == pytest.approx(single.interval, abs=1e-12)
    text = repr(est)
    assert "{0,1}" in text
    assert "I(X;Y)" in text


def test_estimate_decomposition_errors():
    x = [0, 1, 0, 1]
    with pytest.raises(InvalidParameterError, match="`correction`"):
        estimate_decomposition(x, x, x, correction="miller-madow")
    with pytest.raises(InvalidParameterError, match="at least 3 sample columns"):
        estimate_decomposition(x, x)
    with pytest.raises(InvalidParameterError, match="`measure`"):
        estimate_decomposition(x, x, x, measure="wb")
    with pytest.raises(InvalidParameterError, match="`n_bootstrap`"):
        estimate_decomposition(x, x, x, n_bootstrap=0)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "kind", "fragment"),
    [
        (lambda: estimate("entropy", [0, 1, 1], [0, 1]), InvalidParameterError, "equal length"),
        (lambda: estimate("entropy"), InvalidParameterError, "at least one sample column"),
        (lambda: estimate("entropy", []), InvalidParameterError, "at least one sample"),
        (lambda: estimate("entropy", "abc"), InvalidTypeError, "columns[0]"),
        (
            lambda: estimate("mutual_information", [0, 1, 1]),
            InvalidParameterError,
            "at least 2 sample columns",
        ),
        (lambda: estimate("s_max", [0, 1, 1]), InvalidParameterError, "at least 2 sample"),
        (
            lambda: estimate("entropy", [0, 1], n_bootstrap=0),
            InvalidParameterError,
            "`n_bootstrap`",
        ),
        (lambda: estimate("entropy", [0, 1], n_bootstrap=2.5), InvalidTypeError, "`n_bootstrap`"),
        (lambda: estimate("entropy", [0, 1], level=1.0), InvalidParameterError, "`level`"),
        (lambda: estimate("entropy", [0, 1], level=0), InvalidParameterError, "`level`"),
        (lambda: estimate("entropy", [0, 1], level="95%"), InvalidTypeError, "`level`"),
        (lambda: estimate("entropie", [0, 1]), InvalidParameterError, "`measure`"),
        (lambda: estimate(3, [0, 1]), InvalidTypeError, "`measure`"),
        (
            lambda: estimate("entropy", [0, 1], correction="jackknife"),
            InvalidParameterError,
            "`correction`",
        ),
        (
            lambda: estimate("s_max", [0, 1], [1, 0], correction="miller-madow"),
            InvalidParameterError,
            "not a sum of entropies",
        ),
        (lambda: estimate("entropy", [0, 1], method="bc"), InvalidParameterError, "`method`"),
        (
            lambda: estimate("entropy", [0, 1], resampling="poisson"),
            InvalidParameterError,
            "`resampling`",
        ),
        (lambda: estimate("entropy", [0, 1], seed=-1), InvalidParameterError, "`seed`"),
        (lambda: estimate("entropy", [0, 1], seed="s"), InvalidTypeError, "`seed`"),
        (
            lambda: estimate("entropy", [0, 1], n_permutations=-1),
            InvalidParameterError,
            "`n_permutations`",
        ),
        (
            lambda: estimate("entropy", [0, 1], n_permutations=5),
            InvalidParameterError,
            "permutation test",
        ),
        (
            lambda: permutation_test("s_max", [0, 1], [1, 0], n_permutations=0),
            InvalidParameterError,
            "`n_permutations`",
        ),
        (
            lambda: permutation_test("s_max", [0, 1], [1, 0], alternative="two-sided"),
            InvalidParameterError,
            "`alternative`",
        ),
        (
            lambda: bootstrap("entropy", [0, 1], n_resamples=0),
            InvalidParameterError,
            "`n_resamples`",
        ),
        (
            lambda: estimate(lambda p: p, [0, 1], [1, 0]),
            InvalidTypeError,
            "one real number",
        ),
        (
            lambda: estimate("pid_unique", [0, 1], [1, 0], [0, 0], source=2),
            InvalidParameterError,
            "`source`",
        ),
        (
            lambda: estimate("conditional_mutual_information", [0, 1], [1, 0], [0, 0], a=0),
            InvalidParameterError,
            "`b`",
        ),
        (
            lambda: estimate("wms", [0, 1], [1, 0], [0, 0], sources=[0, 2]),
            InvalidParameterError,
            "`sources`",
        ),
        (lambda: miller_madow_mutual_information([0, 1]), InvalidParameterError, "2 sample"),
        (
            lambda: permutation_test(
                "conditional_mutual_information", [0, 1], [1, 0], [0, 0], a=0, b=1, given=2
            ),
            InvalidParameterError,
            "shuffled (last) column",
        ),
        (lambda: miller_madow_entropy([0, 1], base=1), InvalidParameterError, "`base`"),
    ],
)
def test_errors_name_the_parameter(call, kind, fragment):
    with pytest.raises(kind) as info:
        call()
    assert fragment in str(info.value)


# --- a DataFrame or a 2-D array in place of the columns ---------------------------------


def _frame_and_columns(seed=3, n=300):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    x1, x2 = rng.integers(0, 2, (2, n))
    y = np.where(x1 & x2, "on", "off")  # AND with string labels
    return pd.DataFrame({"x1": x1, "x2": x2, "y": y}), (x1, x2, y)


def test_estimators_take_a_dataframe_in_place_of_the_columns():
    # The same seed over the same samples: the DataFrame must give the columns' results
    # exactly (one encoding, one resampling stream).
    df, cols = _frame_and_columns()
    a = estimate("s_max", df, n_bootstrap=50, n_permutations=19, seed=1)
    b = estimate("s_max", *cols, n_bootstrap=50, n_permutations=19, seed=1)
    assert (a.value, a.interval, a.p_value) == (b.value, b.interval, b.p_value)
    a = bootstrap("mutual_information", df, n_resamples=50, seed=2)
    b = bootstrap("mutual_information", *cols, n_resamples=50, seed=2)
    assert (a.value, a.interval) == (b.value, b.interval)
    a = permutation_test("wms", df, n_permutations=19, seed=4)
    b = permutation_test("wms", *cols, n_permutations=19, seed=4)
    assert (a.value, a.p_value) == (b.value, b.p_value)
    a = estimate_decomposition(df, measure="imin", n_bootstrap=20, seed=5)
    b = estimate_decomposition(*cols, measure="imin", n_bootstrap=20, seed=5)
    assert a.synergy.value == b.synergy.value
    assert a.synergy.interval == b.synergy.interval
    # The value itself is the plug-in S_max of the table from_samples builds.
    assert estimate("s_max", df, n_bootstrap=1, seed=0).value == pytest.approx(
        synergy.s_max(from_samples(*cols)[0]), abs=1e-12
    )


def test_estimators_take_a_2d_sample_array():
    _, cols = _frame_and_columns()
    samples = np.column_stack([cols[0], cols[1], (cols[2] == "on").astype(int)])
    a = estimate("s_max", samples, n_bootstrap=30, seed=6)
    b = estimate("s_max", *samples.T, n_bootstrap=30, seed=6)
    assert (a.value, a.interval) == (b.value, b.interval)
    assert miller_madow_mutual_information(samples) == miller_madow_mutual_information(*samples.T)


def test_estimator_errors_name_the_dataframe_column():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [0, 1, 1], "y": [0.5, np.nan, 0.5]})
    with pytest.raises(InvalidParameterError, match=r"`columns\['y'\]` parameter of estimate"):
        estimate("mutual_information", df, n_bootstrap=2, seed=0)


def test_options_are_checked_once_before_the_columns_are_read():
    # The plan checks every option before the samples are encoded: with a bad option and
    # bad columns, the option is named (and no time is spent encoding the data).
    with pytest.raises(InvalidParameterError, match="`level` parameter of estimate"):
        estimate("entropy", [0, 1, 1], [0, 1], level=2)
    with pytest.raises(InvalidParameterError, match="`seed` parameter of permutation_test"):
        permutation_test("mutual_information", [0, 1], [0, 1, 1], seed=-1)
    with pytest.raises(InvalidParameterError, match="`level` parameter of estimate_decompo"):
        estimate_decomposition([0, 1], [0, 1], level=5)
