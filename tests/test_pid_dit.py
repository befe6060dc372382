"""Cross-check of the I_min lattice against dit's PID_WB (dit 2.3) on random tables."""

from __future__ import annotations

import numpy as np
import pytest

from synergy.pid import decompose, i_min, redundancy_lattice
from synergy.testing import GATES

dit = pytest.importorskip("dit")
from dit.pid import PID_WB  # noqa: E402


def to_dit(table: np.ndarray) -> object:
    """A dit Distribution over (x1, ..., xn, y) tuples; zero cells are left out."""
    outcomes = [tuple(int(i) for i in idx) for idx in np.ndindex(table.shape) if table[idx] > 0]
    return dit.Distribution(outcomes, [float(table[idx]) for idx in outcomes])


def canonical(node: tuple[tuple[int, ...], ...]) -> frozenset[frozenset[int]]:
    # dit orders the elements of an antichain its own way: compare as sets of sets.
    return frozenset(frozenset(element) for element in node)


def random_table(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    table = rng.dirichlet(np.full(int(np.prod(shape)), 0.7)).reshape(shape)
    table[rng.random(shape) < 0.15] = 0.0  # exact zeros, which dit drops from the alphabet
    return table / table.sum()


@pytest.mark.parametrize(
    ("shape", "count"),
    [
        ((2, 2, 2), 6),
        ((3, 2, 3), 4),
        ((2, 2, 2, 2), 4),
        ((2, 3, 2, 2), 2),
        # dit needs about 10 s per 4-source table (166 nodes): one here, more under slow.
        ((2, 2, 2, 2, 2), 1),
        pytest.param((2, 2, 2, 2, 2), 4, marks=pytest.mark.slow),
    ],
)
def test_imin_matches_dit_pid_wb(shape: tuple[int, ...], count: int) -> None:
    # Reference: dit 2.3, dit.pid.PID_WB(dist) with inputs = every variable but the last and
    # output = the last; its atoms (get_pi) and redundancies (get_red) in bits.
    rng = np.random.default_rng(sum(shape) * 1000 + len(shape) * 10 + count)
    n_sources = len(shape) - 1
    for _ in range(count):
        table = random_table(rng, shape)
        reference = PID_WB(to_dit(table))
        atoms = {canonical(node): value for node, value in reference._pis.items()}
        reds = {canonical(node): value for node, value in reference._reds.items()}
        result = decompose(table, "imin")
        assert len(result.atoms) == len(redundancy_lattice(n_sources).nodes) == len(atoms)
        for node, value in result.atoms.items():
            np.testing.assert_allclose(value, atoms[canonical(node)], atol=1e-10, rtol=0)
            np.testing.assert_allclose(
                result.redundancies[node], reds[canonical(node)], atol=1e-10, rtol=0
            )
        bottom = canonical(redundancy_lattice(n_sources).bottom)
        np.testing.assert_allclose(i_min(table), reds[bottom], atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", sorted(GATES))
def test_gates_match_dit_pid_wb(name: str) -> None:
    # Reference: dit 2.3, dit.pid.PID_WB on each canonical gate of synergy.testing.
    table = GATES[name].table
    reference = PID_WB(to_dit(table))
    atoms = {canonical(node): value for node, value in reference._pis.items()}
    result = decompose(table, "imin")
    for node, value in result.atoms.items():
        np.testing.assert_allclose(value, atoms[canonical(node)], atol=1e-10, rtol=0)
