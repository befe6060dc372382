"""The Williams-Beer redundancy lattice over n sources and Moebius inversion on it.

A measure supplies only a redundancy value per node; this module turns those into atoms.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from synergy._validate import InvalidTypeError, describe, invalid

__all__ = ["Antichain", "RedundancyLattice", "redundancy_lattice"]

Antichain = tuple[tuple[int, ...], ...]

#: Largest number of sources whose lattice we build (166 nodes at 4; 7,579 at 5).
MAX_SOURCES = 4


def _is_below(alpha: Antichain, beta: Antichain) -> bool:
    # Williams & Beer (2010), eq. (7): alpha <= beta iff every element of beta contains
    # some element of alpha.
    return all(any(set(a) <= set(b) for a in alpha) for b in beta)


@dataclass(frozen=True, eq=False)
class RedundancyLattice:
    """The redundancy lattice of ``n_sources`` sources, nodes in a bottom-up linear order.

    Attributes
    ----------
    n_sources : int
        Number of sources n.
    nodes : tuple of Antichain
        Every antichain of non-empty subsets of ``range(n)`` (4, 18 or 166 nodes for
        n = 2, 3, 4). Each antichain is a sorted tuple of sorted tuples of source indices;
        the order is a linear extension of the lattice (a node comes after all below it).
    below : ndarray of bool, shape (N, N)
        ``below[i, j]`` is true when node j <= node i (the zeta matrix, reflexive).
    moebius : ndarray of int64, shape (N, N)
        The inverse of ``below`` (as integers): atoms = moebius @ redundancies.
    """

    n_sources: int
    nodes: tuple[Antichain, ...]
    below: np.ndarray
    moebius: np.ndarray

    @property
    def bottom(self) -> Antichain:
        """{1}{2}...{n}: the information every source carries (the redundancy atom)."""
        return tuple((i,) for i in range(self.n_sources))

    @property
    def top(self) -> Antichain:
        """{12...n}: information only the sources together carry (the synergy atom)."""
        return (tuple(range(self.n_sources)),)

    def index(self, node: Antichain) -> int:
        """Position of ``node`` in :attr:`nodes`."""
        return self._positions()[node]

    def _positions(self) -> dict[Antichain, int]:
        return _positions(self.n_sources)

    def subsets(self) -> tuple[tuple[int, ...], ...]:
        """Every non-empty subset of sources, the elements antichains are built from."""
        return _subsets(self.n_sources)

    def atoms(self, redundancies: np.ndarray) -> np.ndarray:
        """Moebius inversion: partial information atoms from redundancies.

        Parameters
        ----------
        redundancies : ndarray of shape (..., N)
            I_cap(alpha) for every node in :attr:`nodes` order.

        Returns
        -------
        ndarray of shape (..., N)
            pi(alpha) = I_cap(alpha) - sum_{beta < alpha} pi(beta), in the same unit.
        """
        r = np.asarray(redundancies, dtype=np.float64)
        # Recursive subtraction in linear-extension order rather than moebius @ r: it
        # adds fewer terms with large integer coefficients, so rounding stays at the
        # level of the redundancies themselves.
        out = np.empty_like(r)
        strictly = self.below & ~np.eye(len(self.nodes), dtype=bool)
        for i in range(len(self.nodes)):
            out[..., i] = r[..., i] - out[..., strictly[i]].sum(axis=-1)
        return out

    def cumulate(self, atoms: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`atoms`: I_cap(alpha) = sum of the atoms at or below alpha."""
        a = np.asarray(atoms, dtype=np.float64)
        return a @ self.below.T.astype(np.float64)

    def decompose(self, redundancy: Callable[[Antichain], float]) -> dict[Antichain, float]:
        """Atoms keyed by antichain from a redundancy function I_cap(antichain) -> float."""
        r = np.array([redundancy(node) for node in self.nodes])
        return dict(zip(self.nodes, self.atoms(r).tolist(), strict=True))


@cache
def _subsets(n: int) -> tuple[tuple[int, ...], ...]:
    return tuple(s for size in range(1, n + 1) for s in itertools.combinations(range(n), size))


def _antichains(n: int) -> list[Antichain]:
    subsets = _subsets(n)
    sets = [frozenset(s) for s in subsets]
    found: list[Antichain] = []

    # Depth-first over subsets in a fixed order, adding only subsets incomparable with
    # all chosen so far: every antichain is produced exactly once.
    def extend(start: int, chosen: list[int]) -> None:
        if chosen:
            found.append(tuple(sorted(subsets[i] for i in chosen)))
        for j in range(start, len(subsets)):
            if all(not (sets[j] <= sets[i] or sets[i] <= sets[j]) for i in chosen):
                chosen.append(j)
                extend(j + 1, chosen)
                chosen.pop()

    extend(0, [])
    return found


@cache
def _positions(n: int) -> dict[Antichain, int]:
    return {node: i for i, node in enumerate(redundancy_lattice(n).nodes)}


def redundancy_lattice(n_sources: int) -> RedundancyLattice:
    """Build (once, then cached) the redundancy lattice of 1 to 4 sources.

    Parameters
    ----------
    n_sources : int
        Number of sources, 1 <= n <= 4.

    Returns
    -------
    RedundancyLattice
        Nodes, order relation and Moebius function.

    Raises
    ------
    InvalidParameterError, InvalidTypeError
        If ``n_sources`` is not an integer from 1 to 4.

    Notes
    -----
    Nodes are the antichains of non-empty subsets of the sources, ordered by
    alpha <= beta iff for every B in beta there is an A in alpha with A a subset of B
    (Williams & Beer 2010, eq. 7). Their number is the Dedekind number minus 2:
    1, 4, 18, 166 for n = 1, 2, 3, 4.

    References
    ----------
    P. L. Williams and R. D. Beer, "Nonnegative decomposition of multivariate
    information", arXiv:1004.2515 (2010).

    Examples
    --------
    >>> lattice = redundancy_lattice(2)
    >>> lattice.nodes
    (((0,), (1,)), ((0,),), ((1,),), ((0, 1),))
    >>> [len(redundancy_lattice(n).nodes) for n in (1, 2, 3, 4)]
    [1, 4, 18, 166]
    """
    if isinstance(n_sources, bool) or not isinstance(n_sources, (int, np.integer)):
        raise invalid(
            "n_sources",
            "redundancy_lattice",
            f"an integer from 1 to {MAX_SOURCES}",
            describe(n_sources),
            kind=InvalidTypeError,
        )
    if not 1 <= n_sources <= MAX_SOURCES:
        raise invalid(
            "n_sources",
            "redundancy_lattice",
            f"an integer from 1 to {MAX_SOURCES}",
            repr(n_sources),
        )
    return _build_lattice(int(n_sources))


@cache
def _build_lattice(n_sources: int) -> RedundancyLattice:
    chains = _antichains(n_sources)
    size = len(chains)
    rel = np.zeros((size, size), dtype=bool)
    for i, alpha in enumerate(chains):
        for j, beta in enumerate(chains):
            rel[i, j] = _is_below(beta, alpha)
    # A node's down-set is larger than that of anything strictly below it, so sorting by
    # down-set size (ties broken by the antichain's shape) is a linear extension.
    order = sorted(range(size), key=lambda i: (int(rel[i].sum()), _shape_key(chains[i])))
    nodes = tuple(chains[i] for i in order)
    below = rel[np.ix_(order, order)]
    moebius = _moebius(below)
    # The lattice is cached and shared: make its arrays read-only.
    below.flags.writeable = False
    moebius.flags.writeable = False
    return RedundancyLattice(n_sources=n_sources, nodes=nodes, below=below, moebius=moebius)


def _shape_key(node: Antichain) -> tuple[int, Sequence[tuple[int, ...]]]:
    return (-len(node), node)


def _moebius(below: np.ndarray) -> np.ndarray:
    # Exact integer inverse of the unitriangular zeta matrix, by forward substitution.
    size = below.shape[0]
    zeta = below.astype(np.int64)
    inverse = np.zeros((size, size), dtype=np.int64)
    for i in range(size):
        row = np.zeros(size, dtype=np.int64)
        row[i] = 1
        for j in range(i):
            if zeta[i, j]:
                row -= inverse[j]
        inverse[i] = row
    return inverse
