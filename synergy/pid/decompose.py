"""decompose: one entry point for the partial information decompositions of a table.

I_min (any lattice up to 4 sources), I_max and BROJA/VK (two sources) all return a PIDResult.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from synergy._validate import InvalidTypeError, describe, invalid
from synergy.information import conditional_mutual_information
from synergy.pid._kernels import (
    mutual_informations,
    prepare,
    specific_informations,
    target_marginal,
    union,
)
from synergy.pid.imax import i_max_bits
from synergy.pid.imin import imin_redundancies
from synergy.pid.lattice import MAX_SOURCES, RedundancyLattice, redundancy_lattice
from synergy.pid.result import PIDResult

__all__ = ["MEASURES", "decompose"]

#: Accepted ``measure`` names; "vk" is an alias of "broja" (the same programme for 2 sources).
MEASURES = ("imin", "imax", "broja", "vk")

_FUNC = "decompose"

Groups = tuple[tuple[int, ...], ...]


@overload
def decompose(
    p: ArrayLike,
    measure: str,
    sources: object = ...,
    *,
    base: float = ...,
    batch_ndim: Literal[0] = ...,
    solver: str | None = ...,
) -> PIDResult[float]: ...


@overload
def decompose(
    p: ArrayLike,
    measure: str,
    sources: object = ...,
    *,
    base: float = ...,
    batch_ndim: int,
    solver: str | None = ...,
) -> PIDResult[float] | PIDResult[np.ndarray]: ...


def decompose(
    p: ArrayLike,
    measure: str,
    sources: object = None,
    *,
    base: float = 2,
    batch_ndim: int = 0,
    solver: str | None = None,
) -> PIDResult[float] | PIDResult[np.ndarray]:
    """Partial information decomposition of I(X; Y) into redundant, unique and synergistic atoms.

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table, target last; the leading ``batch_ndim`` axes index tables.
    measure : {"imin", "imax", "broja", "vk"}
        "imin": the Williams-Beer lattice with I_min as redundancy, for 2, 3 or 4 sources.
        "imax": two sources; the decomposition I_max induces as a union information.
        "broja" (alias "vk"): two sources; from the optimum of the union information
        programme of :func:`synergy.pid.union_information`.
    sources : sequence of int or of sequences of int, optional
        Source groups as table axes; a group of several axes acts as one variable.
        Default: each axis but the last on its own. Axes in no group are summed out.
    base : float, keyword-only
        Logarithm base (2: bits).
    batch_ndim : int, keyword-only
        Number of leading batch axes. With ``batch_ndim > 0`` every value of the result
        is an ndarray of the batch shape; "broja"/"vk" solve the whole batch in one call
        (see :func:`synergy.pid.union_information`).
    solver : str, optional, keyword-only
        Passed to :func:`synergy.pid.union_information` for "broja"/"vk" (default
        "auto"); closed-form measures take none.

    Returns
    -------
    PIDResult
        ``synergy``, ``redundancy``, ``unique`` (one per source), every ``atom`` keyed by
        antichain, ``redundancies``, ``mutual_information`` and the solver's ``status``,
        ``gap`` and ``iterations`` ("exact", None, None for closed forms); values in units
        of ``base``; ndarrays of the batch shape for ``batch_ndim > 0``.

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError
        If ``measure`` is unknown, or the sources are invalid or too many for the measure
        (at most 4 for "imin", exactly 2 for "imax" and "broja").
    InvalidTypeError
        If ``measure`` or ``solver`` have the wrong type.

    Notes
    -----
    The atoms pi solve I_cap(alpha) = sum_{beta <= alpha} pi(beta) over the redundancy
    lattice (Moebius inversion); they sum to I(X; Y), and the atoms below {i} sum to
    I(X_i; Y).

    - imin: I_cap(alpha) = sum_y p(y) min_{A in alpha} I(Y=y; A), each element A the union
      of its sources (Williams & Beer 2010).
    - imax: I_cup = I_max = sum_y p(y) max_i I(Y=y; X_i); synergy = I(X;Y) - I_max,
      redundancy = I(X_1;Y) + I(X_2;Y) - I_max, unique_i = I(X_i;Y) - redundancy. Since
      min + max = sum at each y, this equals the two-source I_min decomposition.
    - broja: with Q* the optimum of min I_Q(X;Y) s.t. Q(X_i,Y) = P(X_i,Y),
      synergy = I(X;Y) - I_Q*(X;Y), UI_1 = I_Q*(Y;X_1|X_2), UI_2 = I_Q*(Y;X_2|X_1),
      shared = I(X_1;Y) - UI_1 (Bertschinger et al. 2014).

    References
    ----------
    P. L. Williams and R. D. Beer, "Nonnegative decomposition of multivariate
    information", arXiv:1004.2515 (2010). V. Griffith and C. Koch, "Quantifying
    synergistic mutual information", arXiv:1205.4265 (2014). N. Bertschinger, J. Rauh,
    E. Olbrich, J. Jost and N. Ay, "Quantifying unique information", Entropy 16 (2014).

    Examples
    --------
    >>> from synergy.testing import XOR as xor
    >>> result = decompose(xor, "imin")
    >>> round(result.synergy, 12), round(result.redundancy, 12), result.unique
    (1.0, 0.0, (0.0, 0.0))
    >>> result.atoms[((0,), (1,))]
    0.0
    """
    if not isinstance(measure, str):
        raise invalid(
            "measure", _FUNC, f"one of {list(MEASURES)}", describe(measure), kind=InvalidTypeError
        )
    if measure not in MEASURES:
        raise invalid("measure", _FUNC, f"one of {list(MEASURES)}", repr(measure))
    if solver is not None and measure in ("imin", "imax"):
        raise invalid(
            "solver",
            _FUNC,
            f"None for the closed-form measure {measure!r} (solvers are for 'broja'/'vk')",
            repr(solver),
        )
    table, groups, log2_base, batch_ndim = prepare(
        p, sources, func=_FUNC, base=base, batch_ndim=batch_ndim, validate=True, min_sources=2
    )
    most = MAX_SOURCES if measure == "imin" else 2
    if len(groups) > most:
        expected = (
            f"2 to {MAX_SOURCES} source groups for measure 'imin'"
            if measure == "imin"
            else f"exactly 2 source groups for measure {measure!r}"
        )
        raise invalid("sources", _FUNC, expected, f"{len(groups)} groups")
    if measure == "imin":
        return _imin(table, groups, log2_base, base, batch_ndim)
    if measure == "imax":
        return _imax(table, groups, log2_base, base, batch_ndim)
    chosen = "auto" if solver is None else solver
    if batch_ndim:
        return _broja_batch(table, groups, log2_base, base, chosen, batch_ndim)
    return _broja(table, groups, log2_base, base, chosen)


def _result(
    lattice: RedundancyLattice,
    atoms: np.ndarray,
    mutual_information: Any,
    *,
    measure: str,
    base: float,
    groups: tuple[tuple[int, ...], ...],
    status: Any = "exact",
    gap: Any = None,
    iterations: Any = None,
) -> PIDResult[Any]:
    """The result of one table (``atoms`` of shape (N,)) or of a batch (shape (*batch, N))."""
    cumulative = lattice.cumulate(atoms)
    batch_shape = tuple(atoms.shape[:-1])
    if batch_shape:
        atom_map: dict[Any, Any] = {node: atoms[..., j] for j, node in enumerate(lattice.nodes)}
        red_map: dict[Any, Any] = {
            node: cumulative[..., j] for j, node in enumerate(lattice.nodes)
        }
        whole: Any = np.asarray(mutual_information, dtype=np.float64)
    else:
        atom_map = {node: float(v) for node, v in zip(lattice.nodes, atoms, strict=True)}
        red_map = {node: float(v) for node, v in zip(lattice.nodes, cumulative, strict=True)}
        whole = float(mutual_information)
    n = lattice.n_sources
    return PIDResult(
        synergy=atom_map[lattice.top],
        redundancy=atom_map[lattice.bottom],
        unique=tuple(atom_map[((i,),)] for i in range(n)),
        atoms=MappingProxyType(atom_map),
        redundancies=MappingProxyType(red_map),
        mutual_information=whole,
        measure=measure,
        base=float(base),
        status=status,
        gap=gap,
        iterations=iterations,
        sources=groups,
        batch_shape=batch_shape,
    )


def _imin(
    table: np.ndarray, groups: Groups, log2_base: float, base: float, batch_ndim: int = 0
) -> PIDResult[Any]:
    lattice = redundancy_lattice(len(groups))
    redundancies = imin_redundancies(table, groups, lattice, batch_ndim=batch_ndim) / log2_base
    whole = mutual_informations(table, batch_ndim, (union(groups),))[0] / log2_base
    return _result(
        lattice, lattice.atoms(redundancies), whole, measure="imin", base=base, groups=groups
    )


def _single_informations(table: np.ndarray, groups: Groups, batch_ndim: int = 0) -> np.ndarray:
    """I(X_i; Y) in bits per source (last axis), as the p(y)-mean of the specific information."""
    spec = specific_informations(table, batch_ndim, groups)
    return np.einsum("...sy,...y->...s", spec, target_marginal(table, batch_ndim))


def _imax(
    table: np.ndarray, groups: Groups, log2_base: float, base: float, batch_ndim: int = 0
) -> PIDResult[Any]:
    lattice = redundancy_lattice(2)
    single = _single_informations(table, groups, batch_ndim) / log2_base
    i_cup = i_max_bits(table, batch_ndim, groups) / log2_base
    whole = mutual_informations(table, batch_ndim, (union(groups),))[0] / log2_base
    shared = single[..., 0] + single[..., 1] - i_cup
    atoms = _two_source_atoms(
        lattice, shared, single[..., 0] - shared, single[..., 1] - shared, whole - i_cup
    )
    return _result(lattice, atoms, whole, measure="imax", base=base, groups=groups)


def _two_source_atoms(
    lattice: RedundancyLattice, shared: Any, unique_1: Any, unique_2: Any, synergy: Any
) -> np.ndarray:
    """Atoms in lattice order on the last axis, from floats or arrays of the batch shape."""
    values = {
        ((0,), (1,)): shared,
        ((0,),): unique_1,
        ((1,),): unique_2,
        ((0, 1),): synergy,
    }
    return np.stack([np.asarray(values[node], dtype=np.float64) for node in lattice.nodes], -1)


def _broja(
    table: np.ndarray, groups: Groups, log2_base: float, base: float, solver: str
) -> PIDResult[Any]:
    # Imported here so that the closed-form measures never load the solver module (and its
    # numba kernels) just to be imported.
    from synergy.pid.vk import union_information

    lattice = redundancy_lattice(2)
    optimum: Any = union_information(table, list(groups), base=base, solver=solver)
    q = np.asarray(optimum.q, dtype=np.float64)
    # Q lives on the merged sources, (n_1, n_2, n_y), whatever the groups' own axes were.
    q = q.reshape(_merged_size(table, groups[0]), _merged_size(table, groups[1]), q.shape[-1])
    # Solvers may leave cells at -1e-12: they carry no mass, and the CMI needs a table.
    q = np.clip(q, 0.0, None)
    q /= q.sum()
    ui_1 = float(conditional_mutual_information(q, 0, 2, 1, base=base, validate=False))
    ui_2 = float(conditional_mutual_information(q, 1, 2, 0, base=base, validate=False))
    single = _single_informations(table, groups) / log2_base
    whole = float(optimum.mutual_information)
    shared = single[0] - ui_1
    synergy = float(optimum.synergy)
    atoms = _two_source_atoms(lattice, shared, ui_1, ui_2, synergy)
    return _result(
        lattice,
        atoms,
        whole,
        measure="broja",
        base=base,
        groups=groups,
        status=str(optimum.status),
        gap=None if optimum.gap is None else float(optimum.gap),
        iterations=None if optimum.iterations is None else int(optimum.iterations),
    )


def _broja_batch(
    table: np.ndarray, groups: Groups, log2_base: float, base: float, solver: str, batch_ndim: int
) -> PIDResult[Any]:
    """BROJA atoms of every table of a batch, from one batched union-information call."""
    from synergy.pid.vk import union_information

    lattice = redundancy_lattice(2)
    optimum: Any = union_information(
        table, list(groups), base=base, solver=solver, batch_ndim=batch_ndim, validate=False
    )
    ui_1, ui_2 = optimum.unique
    single = _single_informations(table, groups, batch_ndim) / log2_base
    atoms = _two_source_atoms(lattice, single[..., 0] - ui_1, ui_1, ui_2, optimum.synergy)
    return _result(
        lattice,
        atoms,
        optimum.mutual_information,
        measure="broja",
        base=base,
        groups=groups,
        status=optimum.status,
        gap=optimum.gap,
        iterations=optimum.iterations,
    )


def _merged_size(table: np.ndarray, group: tuple[int, ...]) -> int:
    return int(np.prod([table.shape[a] for a in group]))
