"""decompose computes each number once: BROJA's atoms are union_information's, and the
redundancies are the ones the measure's lattice decomposition produced.

The values themselves are checked against dit and the papers in tests/test_pid_dit.py,
tests/test_pid_gates.py and tests/test_vk.py; here only where they come from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import synergy
from synergy.pid import lattice_decomposition, merge_sources
from synergy.pid.lattice import RedundancyLattice


def _tables(shape: tuple[int, ...], batch: tuple[int, ...], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(int(np.prod(shape))), size=batch or None).reshape(*batch, *shape)


@pytest.mark.parametrize("batch", [(), (5,)])
def test_broja_atoms_are_union_informations_own(batch: tuple[int, ...]) -> None:
    p = _tables((3, 2, 3), batch, 1)
    kw = {"batch_ndim": len(batch)}
    pid = synergy.decompose(p, "broja", **kw)
    optimum = synergy.union_information(p, **kw)
    # Bit for bit: the atoms are the solver's unique, shared and synergy, not a recomputation.
    np.testing.assert_array_equal(pid.unique[0], optimum.unique[0])
    np.testing.assert_array_equal(pid.unique[1], optimum.unique[1])
    np.testing.assert_array_equal(pid.redundancy, optimum.shared)
    np.testing.assert_array_equal(pid.synergy, optimum.synergy)


@pytest.mark.parametrize("measure", ["broja", "imin", "mmi"])
def test_the_lattice_is_cumulated_once(measure: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    cumulate = RedundancyLattice.cumulate

    def counted(self: RedundancyLattice, atoms: Any) -> np.ndarray:
        calls.append(atoms)
        return cumulate(self, atoms)

    monkeypatch.setattr(RedundancyLattice, "cumulate", counted)
    synergy.decompose(_tables((2, 2, 2), (4,), 2), measure, batch_ndim=1)
    # Once for a measure that gives atoms (BROJA), never for one that gives redundancies.
    assert len(calls) == (1 if measure == "broja" else 0)


@pytest.mark.parametrize("measure", ["imin", "mmi", "broja"])
@pytest.mark.parametrize("base", [2, np.e])
def test_redundancies_are_the_measures_own(measure: str, base: float) -> None:
    p = _tables((3, 2, 4), (20,), 3)
    pid = synergy.decompose(p, measure, batch_ndim=1, base=base)
    found = lattice_decomposition(
        measure, merge_sources(p, ((0,), (1,)), batch_ndim=1), batch_ndim=1
    )
    scale = np.log2(base)
    for node, value in found.redundancies.items():
        np.testing.assert_array_equal(pid.redundancies[node], value / scale)
