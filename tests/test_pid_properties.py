"""Property tests of the PID lattice and the closed-form synergy measures on random tables."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import xlogy

from synergy.pid import decompose, i_max, i_min, redundancy_lattice, s_max, wms

TOL = 1e-10


@st.composite
def pid_tables(draw: st.DrawFn, n_sources: int) -> np.ndarray:
    """A table p[x1, ..., xn, y] with 2-3 symbols per axis and some exact zeros."""
    sizes = draw(st.lists(st.integers(2, 3), min_size=n_sources + 1, max_size=n_sources + 1))
    cells = math.prod(sizes)
    weights = draw(
        st.lists(
            st.one_of(st.just(0.0), st.floats(1e-3, 1.0)), min_size=cells, max_size=cells
        ).filter(lambda w: sum(w) > 0.0)
    )
    table = np.array(weights).reshape(sizes)
    return table / table.sum()


def mutual_information(table: np.ndarray, axes: tuple[int, ...]) -> float:
    """I(A; Y) in bits by the plain formula, A the given source axes, Y the last axis."""
    drop = tuple(a for a in range(table.ndim - 1) if a not in axes)
    joint = table.sum(axis=drop).reshape(-1, table.shape[-1])
    outer = joint.sum(axis=1, keepdims=True) * joint.sum(axis=0, keepdims=True)
    return float((xlogy(joint, joint) - xlogy(joint, outer)).sum() / math.log(2))


@pytest.mark.parametrize("n_sources", [2, 3])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_atoms_sum_to_the_mutual_informations(n_sources: int, data: st.DataObject) -> None:
    table = data.draw(pid_tables(n_sources))
    result = decompose(table, "imin")
    lattice = redundancy_lattice(n_sources)
    atoms = np.array([result.atoms[node] for node in lattice.nodes])
    whole = mutual_information(table, tuple(range(n_sources)))
    np.testing.assert_allclose(atoms.sum(), whole, atol=TOL)
    np.testing.assert_allclose(result.mutual_information, whole, atol=TOL)
    for i in range(n_sources):
        below = lattice.below[lattice.index(((i,),))]
        np.testing.assert_allclose(atoms[below].sum(), mutual_information(table, (i,)), atol=TOL)
    # Every I_min atom of 2 and 3 sources is >= 0 (Williams & Beer 2010, Theorem 5,
    # proven for n <= 3).
    assert atoms.min() >= -TOL


@pytest.mark.parametrize("n_sources", [2, 3])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_symmetric_under_swapping_sources(n_sources: int, data: st.DataObject) -> None:
    table = data.draw(pid_tables(n_sources))
    perm = data.draw(st.permutations(range(n_sources)))
    # Source i of the swapped table is source perm[i] of the original.
    swapped = np.transpose(table, (*perm, n_sources))
    original = decompose(table, "imin").atoms
    moved = decompose(swapped, "imin").atoms
    for node, value in moved.items():
        image = tuple(sorted(tuple(sorted(perm[i] for i in element)) for element in node))
        np.testing.assert_allclose(value, original[image], atol=TOL)


@pytest.mark.parametrize("n_sources", [2, 3])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_invariant_to_relabelling_symbols(n_sources: int, data: st.DataObject) -> None:
    table = data.draw(pid_tables(n_sources))
    relabelled = table
    for axis, size in enumerate(table.shape):
        order = data.draw(st.permutations(range(size)))
        relabelled = np.take(relabelled, order, axis=axis)
    before = decompose(table, "imin").atoms
    after = decompose(relabelled, "imin").atoms
    np.testing.assert_allclose(list(after.values()), list(before.values()), atol=TOL)
    for measure in (wms, s_max, i_min, i_max):
        np.testing.assert_allclose(measure(relabelled), measure(table), atol=TOL)


@pytest.mark.parametrize("n_sources", [2, 3])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_synergy_bounds(n_sources: int, data: st.DataObject) -> None:
    # max(0, WMS) <= S_max <= I(X;Y) (Griffith & Koch 2014; the seed slides' bounds).
    table = data.draw(pid_tables(n_sources))
    whole = mutual_information(table, tuple(range(n_sources)))
    synergy = s_max(table)
    assert max(0.0, wms(table)) <= synergy + TOL
    assert synergy <= whole + TOL
    assert 0.0 - TOL <= i_min(table) <= i_max(table) + TOL


@pytest.mark.parametrize("n_sources", [2, 3])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_s_max_is_the_imin_atoms_below_no_single_source(
    n_sources: int, data: st.DataObject
) -> None:
    # The atoms below some {i} are the union of the down-sets of the singletons; by
    # inclusion-exclusion over them and min-max (sum_S (-1)^{|S|+1} min_S = max) they sum
    # to I_max, so the rest sum to I(X;Y) - I_max = S_max.
    table = data.draw(pid_tables(n_sources))
    result = decompose(table, "imin")
    lattice = redundancy_lattice(n_sources)
    under_a_source = np.zeros(len(lattice.nodes), dtype=bool)
    for i in range(n_sources):
        under_a_source |= lattice.below[lattice.index(((i,),))]
    atoms = np.array([result.atoms[node] for node in lattice.nodes])
    np.testing.assert_allclose(atoms[~under_a_source].sum(), s_max(table), atol=TOL)


@settings(max_examples=40, deadline=None)
@given(table=pid_tables(2))
def test_imax_decomposition_equals_imin_for_two_sources(table: np.ndarray) -> None:
    # min + max = sum at each y, so I_cup = I_max induces I_cap = I_min.
    by_min = decompose(table, "imin")
    by_max = decompose(table, "imax")
    for node, value in by_min.atoms.items():
        np.testing.assert_allclose(by_max.atoms[node], value, atol=TOL)
    np.testing.assert_allclose(by_max.synergy, s_max(table), atol=TOL)


@settings(max_examples=20, deadline=None)
@given(table=pid_tables(2))
def test_base_scaling(table: np.ndarray) -> None:
    for measure in (wms, s_max, i_min, i_max):
        np.testing.assert_allclose(
            measure(table, base=math.e), measure(table) * math.log(2), atol=TOL
        )
        np.testing.assert_allclose(measure(table, base=4), measure(table) / 2, atol=TOL)


def test_lattice_sizes_and_order() -> None:
    # Dedekind numbers minus 2 (Williams & Beer 2010, Sec. 4): 4, 18, 166 nodes.
    for n, size in [(1, 1), (2, 4), (3, 18), (4, 166)]:
        lattice = redundancy_lattice(n)
        assert len(lattice.nodes) == size
        assert lattice.nodes[0] == lattice.bottom
        assert lattice.nodes[-1] == lattice.top
        # Linear extension: nothing above a node comes before it.
        assert not np.triu(lattice.below, k=1).any()
        identity = lattice.moebius @ lattice.below.astype(np.int64)
        np.testing.assert_array_equal(identity, np.eye(size, dtype=np.int64))
        rng = np.random.default_rng(n)
        values = rng.normal(size=size)
        np.testing.assert_allclose(lattice.cumulate(lattice.atoms(values)), values, atol=1e-12)
        np.testing.assert_allclose(lattice.atoms(values), lattice.moebius @ values, atol=1e-12)
    for alpha, beta in itertools.product(redundancy_lattice(3).nodes, repeat=2):
        lattice = redundancy_lattice(3)
        i, j = lattice.index(alpha), lattice.index(beta)
        expected = all(any(set(a) <= set(b) for a in alpha) for b in beta)
        assert bool(lattice.below[j, i]) == expected


@settings(max_examples=10, deadline=None)
@given(table=pid_tables(2))
def test_broja_atoms_are_consistent(table: np.ndarray) -> None:
    # From the optimum Q: atoms sum to I(X;Y), the atoms below {i} to I(X_i;Y), and
    # max(0, WMS) <= S_VK <= S_max (Bertschinger et al. 2014; the seed slides' bounds).
    pytest.importorskip("cvxpy")
    result = decompose(table, "broja")
    tol = 1e-6
    whole = mutual_information(table, (0, 1))
    np.testing.assert_allclose(sum(result.atoms.values()), whole, atol=tol)
    np.testing.assert_allclose(
        result.redundancy + result.unique[0], mutual_information(table, (0,)), atol=tol
    )
    np.testing.assert_allclose(
        result.redundancy + result.unique[1], mutual_information(table, (1,)), atol=tol
    )
    assert max(0.0, wms(table)) <= result.synergy + tol
    assert result.synergy <= s_max(table) + tol
    assert min(result.atoms.values()) >= -tol
