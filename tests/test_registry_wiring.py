"""A measure registered by a user reaches every reader of the registry with no other change.

decompose, synergy.pid.MEASURES / measure_names(), the sample estimators, scan and
``python -m synergy`` all look measures up in synergy.pid.registry.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import synergy
from synergy import InvalidParameterError
from synergy.__main__ import main
from synergy.estimators import bootstrap, estimate, estimate_decomposition, permutation_test
from synergy.pid import (
    MEASURES,
    decompose,
    measure_names,
    register_measure,
    unregister_measure,
)
from synergy.testing import AND, XOR
from tests.test_pid_registry import user_imin

NAME = "user_imin"


@pytest.fixture
def user_measure() -> Iterator[str]:
    # user_imin is I_min written with loops in the test module (Williams & Beer 2010, eq. 9),
    # independent of the library's kernels; the built-in "imin" is the reference.
    register_measure(NAME, user_imin)
    try:
        yield NAME
    finally:
        unregister_measure(NAME)
    assert NAME not in measure_names()
    assert NAME not in MEASURES


def _samples(n: int = 400, seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.integers(0, 2, size=(2, n))
    flip = rng.random(n) < 0.1
    return x1, x2, (x1 & x2) ^ flip


def test_listed_in_measures_and_measure_names(user_measure: str) -> None:
    assert user_measure in measure_names()
    assert user_measure in MEASURES
    assert user_measure in synergy.pid.MEASURES
    assert tuple(MEASURES) == measure_names()


def test_decompose(user_measure: str) -> None:
    # AND under I_min: shared 0.311278 = I(X1; Y), no unique information, synergy 0.5 bit
    # (Williams & Beer 2010, Fig. 4).
    result = decompose(AND, user_measure)
    assert result.measure == user_measure
    assert result.status == "exact"
    np.testing.assert_allclose(result.redundancy, 0.3112781244591328, atol=1e-12)
    np.testing.assert_allclose(result.unique, (0.0, 0.0), atol=1e-12)
    np.testing.assert_allclose(result.synergy, 0.5, atol=1e-12)
    batch = decompose(np.stack([AND, XOR]), user_measure, batch_ndim=1, base=4)
    reference = decompose(np.stack([AND, XOR]), "imin", batch_ndim=1, base=4)
    for node, value in reference.atoms.items():
        np.testing.assert_allclose(batch.atoms[node], value, atol=1e-12, err_msg=str(node))


def test_estimate_bootstrap_and_permutation_test(user_measure: str) -> None:
    # Same seeds, same resamples: the user's measure gives the built-in I_min's numbers.
    columns = _samples()
    for func, kwargs in [
        (estimate, {"n_bootstrap": 30, "n_permutations": 19}),
        (bootstrap, {"n_resamples": 30}),
        (permutation_test, {"n_permutations": 19}),
    ]:
        ours = func("pid_synergy", *columns, pid=user_measure, seed=5, **kwargs)
        reference = func("pid_synergy", *columns, pid="imin", seed=5, **kwargs)
        np.testing.assert_allclose(ours.value, reference.value, atol=1e-12)
        if reference.interval is not None:
            np.testing.assert_allclose(ours.interval, reference.interval, atol=1e-12)
        assert ours.p_value == reference.p_value


def test_estimate_decomposition(user_measure: str) -> None:
    columns = _samples()
    ours = estimate_decomposition(*columns, measure=user_measure, n_bootstrap=30, seed=2)
    reference = estimate_decomposition(*columns, measure="imin", n_bootstrap=30, seed=2)
    assert ours.measure == user_measure
    for node, est in reference.atoms.items():
        np.testing.assert_allclose(ours.atoms[node].value, est.value, atol=1e-12)
        np.testing.assert_allclose(ours.atoms[node].interval, est.interval, atol=1e-12)


def test_scan(user_measure: str) -> None:
    pd = pytest.importorskip("pandas")
    x1, x2, y = _samples()
    frame = pd.DataFrame({"a": x1, "b": x2, "y": y})
    result = synergy.scan(frame, measures=[user_measure, "imin"], targets=["y"])
    assert len(result) == 1
    np.testing.assert_allclose(result[user_measure], result["imin"], atol=1e-12)


def test_python_m_synergy(user_measure: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--gates", "AND", "XOR", "--measures", user_measure]) == 0
    ours = capsys.readouterr().out
    assert main(["--gates", "AND", "XOR", "--measures", "imin"]) == 0
    reference = capsys.readouterr().out
    assert f"PID, measure={user_measure!r} (bits)" in ours
    assert ours.replace(repr(user_measure), "'imin'") == reference


def test_unknown_measure_is_refused_everywhere() -> None:
    columns = _samples(n=40)
    with pytest.raises(InvalidParameterError, match="`measure` parameter of decompose"):
        decompose(AND, NAME)
    # The estimator names its own parameter, not decompose's.
    with pytest.raises(InvalidParameterError, match="`pid` parameter of estimate"):
        estimate("pid_synergy", *columns, pid=NAME, n_bootstrap=5)
    with pytest.raises(InvalidParameterError, match="`measure` parameter of estimate_decomp"):
        estimate_decomposition(*columns, measure=NAME, n_bootstrap=5)
    with pytest.raises(SystemExit):
        main(["--measures", NAME])


def test_estimate_decomposition_broja_batches_the_resamples() -> None:
    # estimate_decomposition solves the resamples in one batched decompose; estimate's
    # "pid_synergy" solves them one table at a time with the same streams. The two solvers
    # certify S_VK to 1e-10 bits each, so the values agree far below 1e-8.
    columns = _samples(n=300, seed=9)
    est = estimate_decomposition(*columns, measure="broja", n_bootstrap=25, seed=1)
    single = estimate("pid_synergy", *columns, pid="broja", n_bootstrap=25, seed=1)
    np.testing.assert_allclose(est.synergy.bootstrap_values, single.bootstrap_values, atol=1e-8)
    total = sum(a.bootstrap_values for a in est.atoms.values())
    np.testing.assert_allclose(total, est.mutual_information.bootstrap_values, atol=1e-8)


def test_broja_atoms_and_diagnostics_are_union_informations() -> None:
    # BROJA's atoms are computed once, by union_information; decompose carries them and
    # the solver's status, gap and iterations through the registry, in units of base.
    from tests._dit import random_table

    table = random_table(np.random.default_rng(4), (3, 2, 3))
    optimum = synergy.union_information(table, base=4)
    result = decompose(table, "vk", base=4)
    assert result.measure == "broja"
    np.testing.assert_allclose(result.unique, optimum.unique, atol=1e-12)
    np.testing.assert_allclose(result.redundancy, optimum.shared, atol=1e-12)
    np.testing.assert_allclose(result.synergy, optimum.synergy, atol=1e-12)
    assert result.status == optimum.status
    assert result.iterations == optimum.iterations
    np.testing.assert_allclose(result.gap, optimum.gap, rtol=1e-9)
    stack = np.stack([table, table[::-1]])
    batch = synergy.union_information(stack, base=4, batch_ndim=1)
    found = decompose(stack, "broja", base=4, batch_ndim=1)
    np.testing.assert_allclose(found.unique, batch.unique, atol=1e-12)
    np.testing.assert_allclose(found.gap, batch.gap, rtol=1e-9)
    np.testing.assert_array_equal(found.iterations, batch.iterations)
    np.testing.assert_array_equal(found.status, batch.status)
