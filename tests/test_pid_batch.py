"""Batched closed forms equal the per-table loop, and the numba kernels equal their Python."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import synergy
from synergy.pid import i_max, i_min, s_max, wms

MEASURES = [wms, s_max, i_max, i_min]


@pytest.mark.parametrize("measure", MEASURES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("batch", "shape", "sources"),
    [
        ((7,), (2, 2, 2), None),
        ((3, 4), (2, 3, 2), None),
        ((5,), (2, 2, 3, 2), None),
        ((4,), (2, 3, 2, 3), [(0, 2), (1,)]),
        ((6,), (3, 2, 2, 2), [0, 2]),  # axis 1 is summed out
    ],
)
def test_batched_equals_looped(measure, batch, shape, sources) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(len(shape) + len(batch))
    tables = rng.dirichlet(np.ones(int(np.prod(shape))), size=batch).reshape(*batch, *shape)
    tables[..., 0, :] *= rng.random(shape[-1]) < 0.5  # some exact zeros
    tables /= tables.sum(axis=tuple(range(len(batch), tables.ndim)), keepdims=True)
    batched = measure(tables, sources, batch_ndim=len(batch))
    assert isinstance(batched, np.ndarray)
    assert batched.shape == batch
    looped = np.array([measure(t, sources) for t in tables.reshape(-1, *shape)])
    np.testing.assert_allclose(batched.ravel(), looped, atol=1e-13, rtol=0)
    assert all(isinstance(measure(t, sources), float) for t in tables.reshape(-1, *shape)[:2])


@pytest.mark.skipif(
    numba.config.DISABLE_JIT, reason="a scale check: 1e5 tables through pure-Python kernels"
)
def test_hundred_thousand_tables_in_one_call() -> None:
    rng = np.random.default_rng(0)
    tables = rng.dirichlet(np.ones(8), size=100_000).reshape(-1, 2, 2, 2)
    synergy = s_max(tables, batch_ndim=1)
    whole_minus_sum = wms(tables, batch_ndim=1)
    assert synergy.shape == (100_000,)
    # max(0, WMS) <= S_max on every table (Griffith & Koch 2014).
    assert np.all(np.maximum(whole_minus_sum, 0.0) <= synergy + 1e-12)
    picks = rng.choice(100_000, size=20, replace=False)
    np.testing.assert_allclose(
        synergy[picks], [s_max(tables[i]) for i in picks], atol=1e-13, rtol=0
    )


def test_validate_false_gives_the_same_numbers() -> None:
    rng = np.random.default_rng(1)
    tables = rng.dirichlet(np.ones(12), size=9).reshape(9, 2, 3, 2)
    for measure in MEASURES:
        np.testing.assert_array_equal(
            measure(tables, batch_ndim=1, validate=False), measure(tables, batch_ndim=1)
        )


def test_built_on_the_core_quantities() -> None:
    # One implementation of each quantity: the measures must agree with synergy's public
    # mutual_information and specific_information on the same tables.
    rng = np.random.default_rng(2)
    tables = rng.dirichlet(np.ones(18), size=5).reshape(5, 3, 2, 3)
    tables[0, 1, :, :] = 0.0
    tables[0] /= tables[0].sum()
    mi = synergy.mutual_information(tables, batch_ndim=1)
    mi_1 = synergy.mutual_information(tables, 0, 2, batch_ndim=1)
    mi_2 = synergy.mutual_information(tables, 1, 2, batch_ndim=1)
    np.testing.assert_allclose(wms(tables, batch_ndim=1), mi - mi_1 - mi_2, atol=1e-13, rtol=0)
    spec = np.stack(
        [synergy.specific_information(tables, a, batch_ndim=1) for a in (0, 1)], axis=-2
    )
    p_y = tables.sum(axis=(1, 2))
    np.testing.assert_allclose(
        i_max(tables, batch_ndim=1), (p_y * spec.max(axis=-2)).sum(-1), atol=1e-13, rtol=0
    )
    np.testing.assert_allclose(
        i_min(tables, batch_ndim=1), (p_y * spec.min(axis=-2)).sum(-1), atol=1e-13, rtol=0
    )
    np.testing.assert_allclose(
        s_max(tables, batch_ndim=1), mi - (p_y * spec.max(axis=-2)).sum(-1), atol=1e-13, rtol=0
    )


@pytest.mark.parametrize("measure", sorted(synergy.pid.MEASURES))
@pytest.mark.parametrize("batch", [(0,), (2, 0)])
def test_decompose_of_an_empty_batch_is_empty_of_the_batch_shape(measure, batch) -> None:  # type: ignore[no-untyped-def]
    empty = synergy.decompose(np.zeros((*batch, 2, 2, 2)), measure, batch_ndim=len(batch))
    # As union_information and a batch of one table answer: every value an array of the
    # batch shape, with the same status, gap and iterations fields.
    one = synergy.decompose(np.full((1, 2, 2, 2), 0.125), measure, batch_ndim=1)
    assert empty.batch_shape == batch
    values = [empty.synergy, empty.redundancy, *empty.unique, empty.mutual_information]
    values += [*empty.atoms.values(), *empty.redundancies.values()]
    assert all(isinstance(v, np.ndarray) and v.shape == batch for v in values)
    assert set(empty.atoms) == set(one.atoms)
    for field in ("status", "gap", "iterations"):
        got, ref = getattr(empty, field), getattr(one, field)
        if isinstance(ref, np.ndarray):
            assert got.shape == batch, field
            assert got.dtype.kind == ref.dtype.kind, field
        else:
            assert got == ref, field
    union = synergy.union_information(np.zeros((*batch, 2, 2, 2)), batch_ndim=len(batch))
    assert union.synergy.shape == empty.synergy.shape


def test_decompose_of_an_empty_batch_checks_its_parameters() -> None:
    with pytest.raises(synergy.InvalidParameterError, match=r"`sources`.*exactly 2 source groups"):
        synergy.decompose(np.zeros((0, 2, 2, 2, 2)), "broja", batch_ndim=1)
    with pytest.raises(synergy.InvalidParameterError, match="`measure`"):
        synergy.decompose(np.zeros((0, 2, 2, 2)), "nope", batch_ndim=1)
    with pytest.raises(synergy.InvalidDistributionError, match="non-empty"):
        synergy.decompose(np.zeros((3, 2, 0, 2)), "imin", batch_ndim=1)
    # The target axis is honoured: sources [1, 2] with the target first, not last.
    empty = synergy.decompose(np.zeros((0, 3, 2, 2)), "imin", [1, 2], target=0, batch_ndim=1)
    assert empty.sources == ((1,), (2,))
    assert empty.synergy.shape == (0,)
    with pytest.raises(synergy.InvalidParameterError, match="`sources`"):
        synergy.decompose(np.zeros((0, 3, 2, 2)), "imin", [0, 1], target=0, batch_ndim=1)
