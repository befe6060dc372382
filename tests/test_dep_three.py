"""I_dep and three sources: the library registers two; what dit 2.3 does with three, checked.

docs/choosing_a_measure.md and the notes of synergy.pid.measures.dep say why there is no
three-source I_dep here: dit 2.3's PID_dep with three sources computes only the unique atoms
(each the two-source I_dep of one source against the other two merged) and leaves the rest of
a generic table's lattice undefined (NaN). The slow test holds dit to that description, so a
dit that starts defining the three-source lattice fails it and prompts a three-source dep.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from synergy._validate import InvalidParameterError
from synergy.pid import decompose, get_measure, merge_sources
from synergy.testing import XOR3
from tests._dit import to_dit


def _and3() -> np.ndarray:
    # Y = X1 and X2 and X3 with independent uniform bits.
    table = np.zeros((2, 2, 2, 2))
    for x in itertools.product(range(2), repeat=3):
        table[(*x, int(all(x)))] = 1 / 8
    return table


def test_dep_is_registered_for_two_sources() -> None:
    assert get_measure("dep").max_sources == 2
    with pytest.raises(InvalidParameterError, match="exactly 2 source groups for measure 'dep'"):
        decompose(XOR3, "dep")


@pytest.mark.slow
def test_dit_three_source_dep_defines_only_the_unique_atoms() -> None:
    # Reference: dit 2.3, PID_dep(AND3, [[0], [1], [2]], [3]): 60 s at load 6 and 283 s at
    # load 8 on the shared 2-core machine, most of it dit's search over subsets of the 15
    # undetermined atoms. Its 18-node lattice: the three unique atoms are numbers, the other
    # 15 are NaN and the decomposition is not complete.
    pytest.importorskip("dit")
    from dit.pid import PID_dep

    table = _and3()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dit's optimisers warn on the table's zero cells
        reference = PID_dep(to_dit(table), [[0], [1], [2]], [3])
    atoms = {frozenset(frozenset(e) for e in node): v for node, v in reference._pis.items()}
    assert len(atoms) == 18
    assert not reference.complete
    uniques = {frozenset([frozenset([i])]) for i in range(3)}
    assert all(np.isnan(v) for node, v in atoms.items() if node not in uniques)
    # Each unique atom is the two-source I_dep of X_i against the other two sources merged
    # (dit/pid/measures/idep.py coalesces [source, others, target]): ours on the merged table,
    # to dit's accuracy (1e-4 bits, see tests/test_pid_measures.py).
    for i in range(3):
        others = tuple(j for j in range(3) if j != i)
        merged = merge_sources(table, ((i,), others))
        ours = decompose(merged, "dep").unique[0]
        np.testing.assert_allclose(atoms[frozenset([frozenset([i])])], ours, atol=1e-4, rtol=0)
