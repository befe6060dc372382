"""The canonical gates of the PID literature as joint tables, target last.

Each gate has independent, uniform inputs unless stated; the tables are read-only so that a
test cannot change them for the next one (``gate(name)`` returns a writable copy).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from synergy._validate import invalid

__all__ = ["GATES", "Gate", "gate"]


@dataclass(frozen=True)
class Gate:
    """A named distribution: its table (target last), what it is, and where it comes from.

    Attributes
    ----------
    name : str
        The key in :data:`GATES` and the module-level name (``"XOR"``, ``"RdnXor"``, ...).
    table : ndarray of float64, shape (n_1, ..., n_k, n_target)
        The joint probability table, target on the last axis, read-only.
    description : str
        One line saying what the gate computes and what it shows.
    source : str
        Where the gate and its known values come from (paper, figure or section, and the
        matching ``dit.example_dists`` name where there is one).

    Examples
    --------
    >>> from synergy.testing import GATES
    >>> GATES["XOR"].name, GATES["XOR"].table.shape
    ('XOR', (2, 2, 2))
    """

    name: str
    table: np.ndarray
    description: str
    source: str


def _function_table(
    f: Callable[..., int], n_inputs: int, n_outputs: int, alphabet: int = 2
) -> np.ndarray:
    """Table of Y = f(X_1, ..., X_n) with X_i independent and uniform over range(alphabet)."""
    table = np.zeros((alphabet,) * n_inputs + (n_outputs,))
    for xs in itertools.product(range(alphabet), repeat=n_inputs):
        table[(*xs, f(*xs))] += 1.0 / alphabet**n_inputs
    return table


def _frozen(table: np.ndarray) -> np.ndarray:
    table = np.ascontiguousarray(table, dtype=np.float64)
    table.flags.writeable = False
    return table


def _imperfect_rdn() -> np.ndarray:
    table = np.zeros((2, 2, 2))
    table[0, 0, 0] = 0.499
    table[1, 1, 1] = 0.5
    table[0, 1, 0] = 0.001
    return table


def _rdn() -> np.ndarray:
    table = np.zeros((2, 2, 2))
    table[0, 0, 0] = table[1, 1, 1] = 0.5
    return table


def _rdn_xor() -> np.ndarray:
    # X1 = (r, a), X2 = (r, b), Y = (r, a xor b); symbols encoded as 2 * r + bit.
    table = np.zeros((4, 4, 4))
    for r, a, b in itertools.product(range(2), repeat=3):
        table[2 * r + a, 2 * r + b, 2 * r + (a ^ b)] += 1 / 8
    return table


_ENTRIES = [
    Gate(
        "XOR",
        _function_table(lambda a, b: a ^ b, 2, 2),
        "Y = X1 xor X2: one bit of pure synergy.",
        "Williams & Beer (2010), Nonnegative decomposition of multivariate information, Fig. 4; "
        "dit.example_dists.Xor",
    ),
    Gate(
        "AND",
        _function_table(lambda a, b: a & b, 2, 2),
        "Y = X1 and X2: redundancy and synergy mixed.",
        "Williams & Beer (2010), Fig. 4; Bertschinger et al. (2014), Quantifying unique "
        "information, Sec. 5; dit.example_dists.And",
    ),
    Gate(
        "OR",
        _function_table(lambda a, b: a | b, 2, 2),
        "Y = X1 or X2: the mirror image of AND.",
        "Griffith & Koch (2014), Quantifying synergistic mutual information; dit.example_dists.Or",
    ),
    Gate(
        "RDN",
        _rdn(),
        "X1 = X2 = Y, one uniform bit: one bit of pure redundancy.",
        "Griffith & Koch (2014); dit.example_dists.Rdn",
    ),
    Gate(
        "UNQ",
        _function_table(lambda a, b: a, 2, 2),
        "Y = X1: one bit of information unique to X1, none from X2.",
        "Bertschinger et al. (2014), Quantifying unique information, Sec. 5 (the UNQ example)",
    ),
    Gate(
        "COPY",
        _function_table(lambda a, b: 2 * a + b, 2, 4),
        "Y = (X1, X2), four symbols: one bit unique to each source under BROJA, while "
        "I_min calls one bit of it redundant.",
        "Harder, Salge & Polani (2013), Bivariate measure of redundant information; "
        "Griffith & Koch (2014) (their UNQ); dit.example_dists.Unq",
    ),
    Gate(
        "SUM",
        _function_table(lambda a, b: a + b, 2, 3),
        "Y = X1 + X2 in {0, 1, 2}.",
        "Griffith & Koch (2014); Bertschinger et al. (2014)",
    ),
    Gate(
        "RdnXor",
        _rdn_xor(),
        "X1 = (r, a), X2 = (r, b), Y = (r, a xor b), four symbols each: one bit redundant, "
        "one bit synergistic.",
        "Griffith & Koch (2014); dit.example_dists.RdnXor",
    ),
    Gate(
        "XorAnd",
        _function_table(lambda a, b: 2 * (a & b) + (a ^ b), 2, 4),
        "Y = (X1 xor X2, X1 and X2), encoded 2 * and + xor; symbol 3 never occurs.",
        "Griffith & Koch (2014)",
    ),
    Gate(
        "ImperfectRdn",
        _imperfect_rdn(),
        "Like RDN with a small off-term: p(000) = 0.499, p(111) = 0.5, p(010) = 0.001.",
        "Griffith & Koch (2014); dit.example_dists.ImperfectRdn",
    ),
    Gate(
        "XOR3",
        _function_table(lambda a, b, c: a ^ b ^ c, 3, 2),
        "Y = X1 xor X2 xor X3: one bit needing all three sources.",
        "Williams & Beer (2010), Sec. 5 (three-input parity); Griffith & Koch (2014)",
    ),
]

for _g in _ENTRIES:
    object.__setattr__(_g, "table", _frozen(_g.table))

GATES: Mapping[str, Gate] = MappingProxyType({g.name: g for g in _ENTRIES})
"""Every named gate, by name: ``GATES["XOR"].table``, ``.description``, ``.source``."""


def gate(name: str) -> np.ndarray:
    """A writable copy of the named gate's table (target last).

    Parameters
    ----------
    name : str
        One of ``synergy.testing.GATES`` (case-sensitive as written there).

    Returns
    -------
    ndarray of float64
        The joint table p[x1, x2, ..., y].

    Raises
    ------
    InvalidParameterError
        If ``name`` is not a known gate.

    Examples
    --------
    >>> from synergy.testing import gate
    >>> gate("XOR")[:, :, 1]
    array([[0.  , 0.25],
           [0.25, 0.  ]])
    """
    if name not in GATES:
        raise invalid("name", "gate", f"one of {sorted(GATES)}", repr(name))
    return GATES[name].table.copy()
