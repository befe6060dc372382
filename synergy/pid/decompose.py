"""decompose: one entry point for the partial information decompositions of a table.

Reads the measure registry: any registered measure (I_min, I_max, BROJA/VK, mmi, ccs, ...)
returns a PIDResult, for one table or a batch.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike

from synergy._validate import (
    check_solver_options,
    invalid,
    resolve_target,
)
from synergy.pid._plumbing import mutual_informations, prepare, sources_as_given, union
from synergy.pid.lattice import RedundancyLattice
from synergy.pid.registry import MEASURES, get_measure, lattice_decomposition, merge_sources
from synergy.pid.result import PIDResult

__all__ = ["MEASURES", "decompose"]

_FUNC = "decompose"

Groups = tuple[tuple[int, ...], ...]


@overload
def decompose(
    p: ArrayLike,
    measure: str,
    sources: object = ...,
    *,
    target: int = ...,
    base: float = ...,
    batch_ndim: Literal[0] = ...,
    solver: str | None = ...,
    tol: float | None = ...,
    max_iter: int | None = ...,
) -> PIDResult[float]: ...


@overload
def decompose(
    p: ArrayLike,
    measure: str,
    sources: object = ...,
    *,
    target: int = ...,
    base: float = ...,
    batch_ndim: int,
    solver: str | None = ...,
    tol: float | None = ...,
    max_iter: int | None = ...,
) -> PIDResult[float] | PIDResult[np.ndarray]: ...


def decompose(
    p: ArrayLike,
    measure: str,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    solver: str | None = None,
    tol: float | None = None,
    max_iter: int | None = None,
) -> PIDResult[float] | PIDResult[np.ndarray]:
    """Partial information decomposition of I(X; Y) into redundant, unique and synergistic atoms.

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table, target last unless ``target`` says otherwise; the leading
        ``batch_ndim`` axes index tables.
    measure : str
        A registered measure (see :func:`synergy.pid.measure_names`; measures added with
        :func:`synergy.pid.register_measure` work too). Built in:
        "imin": the Williams-Beer lattice with I_min as redundancy, for 2, 3 or 4 sources.
        "imax": two sources; the decomposition I_max induces as a union information.
        "broja" (alias "vk"): two sources; from the optimum of the union information
        programme of :func:`synergy.pid.union_information`.
        "mmi", "ccs", "pm", "sx", "gk" (redundancies) and "dep" (two sources).
    sources : sequence of int or of sequences of int, optional
        Source groups as table axes; a group of several axes acts as one variable.
        Default: each axis but the target on its own. Axes in no group are summed out.
    target : int, keyword-only
        The target's axis, counted like ``sources``: a table axis (the batch axes do not
        count), negatives from the end. Default -1, the last axis.
    base : float, keyword-only
        Logarithm base (2: bits).
    batch_ndim : int, keyword-only
        Number of leading batch axes. With ``batch_ndim > 0`` every value of the result
        is an ndarray of the batch shape; "broja"/"vk" solve the whole batch in one call
        (see :func:`synergy.pid.union_information`).
    solver : str, optional, keyword-only
        Passed to :func:`synergy.pid.union_information` for "broja"/"vk" (default
        "auto"); only measures registered with a "solver" option take one.
    tol : float, optional, keyword-only
        Proven duality gap the solver must reach, in the unit of ``base``: passed to
        :func:`synergy.pid.union_information` for "broja"/"vk" (default 1e-10, its own).
        Loosen it with a conic ``solver`` (they certify to about 1e-9 bits). A measure
        without a solver (every closed form) has no gap to bound and refuses it, as it
        refuses ``solver``: it would otherwise be silently ignored.
    max_iter : int, optional, keyword-only
        Iteration limit of each solver run, passed on likewise (default 200); refused by
        measures without a solver.

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
        If ``measure`` is not registered, ``solver``, ``tol`` or ``max_iter`` is given to a
        measure that takes none, ``tol`` is not finite and positive or ``max_iter`` not
        positive, ``target`` is out of range, or the sources are invalid (a source containing the
        target axis among them) or too many for the measure (its registered
        ``max_sources``: 4 for "imin", 2 for "imax" and "broja").
    InvalidTypeError
        If ``measure``, ``solver``, ``tol``, ``max_iter`` or ``target`` have the wrong
        type.

    Notes
    -----
    The measure is looked up in the registry (:mod:`synergy.pid.registry`): a redundancy
    measure fills the lattice of the sources and is inverted; a measure with its own
    decomposition supplies the atoms. The atoms pi solve
    I_cap(alpha) = sum_{beta <= alpha} pi(beta) over the redundancy lattice (Moebius
    inversion); they sum to I(X; Y), and the atoms below {i} sum to I(X_i; Y).

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
    record = get_measure(measure, func=_FUNC, param="measure")
    chosen = {"solver": solver, "tol": tol, "max_iter": max_iter}
    for name, value in chosen.items():
        if value is not None and name not in record.options:
            raise invalid(
                name,
                _FUNC,
                f"None for the measure {record.name!r}, which takes no solver (solvers and "
                "their `tol` and `max_iter` are for 'broja'/'vk')",
                repr(value),
            )
    check_solver_options(tol, max_iter, _FUNC)
    table, groups, log2_base, batch_ndim = prepare(
        p,
        sources,
        func=_FUNC,
        base=base,
        batch_ndim=batch_ndim,
        validate=True,
        min_sources=2,
        target=target,
    )
    record.check_sources(len(groups), _FUNC)
    merged = merge_sources(table, groups, batch_ndim=batch_ndim)
    if tol is not None:
        chosen["tol"] = float(tol) * abs(log2_base)  # the measures solve in bits
    options = {name: value for name, value in chosen.items() if value is not None}
    found = lattice_decomposition(
        record, merged, batch_ndim=batch_ndim, validate=False, options=options
    )
    whole = mutual_informations(table, batch_ndim, (union(groups),))[0] / log2_base
    diagnostics: dict[str, Any] = {"status": "exact", "gap": None, "iterations": None}
    if found.status is not None:
        diagnostics["status"] = found.status if batch_ndim else str(found.status.item())
    if found.gap is not None:
        gap = found.gap / abs(log2_base)
        diagnostics["gap"] = gap if batch_ndim else float(gap)
    if found.iterations is not None:
        diagnostics["iterations"] = found.iterations if batch_ndim else int(found.iterations)
    return _result(
        found.lattice,
        found.atom_values / log2_base,
        found.redundancy_values / log2_base,
        whole,
        measure=record.name,
        base=base,
        groups=sources_as_given(
            groups, resolve_target(target, table.ndim - batch_ndim, func=_FUNC)
        ),
        **diagnostics,
    )


def _result(
    lattice: RedundancyLattice,
    atoms: np.ndarray,
    cumulative: np.ndarray,
    mutual_information: Any,
    *,
    measure: str,
    base: float,
    groups: tuple[tuple[int, ...], ...],
    status: Any = "exact",
    gap: Any = None,
    iterations: Any = None,
) -> PIDResult[Any]:
    """The result of one table (``atoms`` and the redundancies ``cumulative`` of shape (N,))
    or of a batch (shape (*batch, N))."""
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
