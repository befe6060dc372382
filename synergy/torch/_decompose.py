"""decompose on tensors: the partial information atoms of the measures that have a gradient.

The redundancy lattice and its Moebius inversion are synergy.pid's; the redundancies (or the
union information) are the torch closed forms and S_VK's envelope-theorem Function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np

from synergy._validate import check_solver_options, invalid, resolve_target
from synergy.pid._plumbing import sources_as_given
from synergy.pid.lattice import RedundancyLattice, redundancy_lattice
from synergy.pid.registry import Measure, get_measure
from synergy.pid.result import PIDResult
from synergy.torch._information import mutual_information_nats
from synergy.torch._measures import (
    gk_redundancies,
    merged_stack,
    pm_redundancies,
    sx_redundancies,
)
from synergy.torch._pid import (
    Groups,
    i_max_nats,
    prepare,
    union,
    weighted_specific_informations,
)
from synergy.torch._tensor import Tensor, torch
from synergy.torch._vk import union_nats

__all__ = ["GRADIENT_MEASURES", "decompose"]

_FUNC = "decompose"
_DEFAULT_TOL = 1e-10
_DEFAULT_MAX_ITER = 200


def _axes(groups: Groups, element: tuple[int, ...]) -> tuple[int, ...]:
    """The table axes of the union of the sources in ``element``, sorted."""
    return tuple(sorted(a for i in element for a in groups[i]))


def _by_subset(lattice: RedundancyLattice, values: Tensor) -> dict[tuple[int, ...], Tensor]:
    return {s: values[..., j, :] for j, s in enumerate(lattice.subsets())}


def _imin_redundancies(
    table: Tensor, batch_ndim: int, groups: Groups, lattice: RedundancyLattice
) -> Tensor:
    """I_min of every node, nats: sum_y min over elements of p(y) I(Y=y; A)."""
    subsets = lattice.subsets()
    spec = weighted_specific_informations(
        table, batch_ndim, tuple(_axes(groups, s) for s in subsets)
    )
    by_subset = _by_subset(lattice, spec)
    return torch.stack(
        [
            torch.stack([by_subset[a] for a in node], dim=-2).amin(dim=-2).sum(dim=-1)
            for node in lattice.nodes
        ],
        dim=-1,
    )


def _mmi_redundancies(
    table: Tensor, batch_ndim: int, groups: Groups, lattice: RedundancyLattice
) -> Tensor:
    """I_mmi of every node, nats: min over elements of I(A; Y)."""
    target = (table.ndim - batch_ndim - 1,)
    mi = {
        s: mutual_information_nats(table, batch_ndim, _axes(groups, s), target)
        for s in lattice.subsets()
    }
    return torch.stack(
        [torch.stack([mi[a] for a in node], dim=-1).amin(dim=-1) for node in lattice.nodes], dim=-1
    )


def _merged(
    redundancies: Callable[[Tensor, RedundancyLattice], Tensor],
) -> Callable[[Tensor, int, Groups, RedundancyLattice], Tensor]:
    """A redundancy of merged stacks (B, n_G1, ..., n_y) as one of the raw table."""

    def on_table(
        table: Tensor, batch_ndim: int, groups: Groups, lattice: RedundancyLattice
    ) -> Tensor:
        batch = tuple(table.shape[:batch_ndim])
        if math.prod(batch) == 0:
            # A batch of zero tables: zero redundancies of the batch shape, still on the
            # table's graph, without the measures' stack reshapes (their -1 needs a table).
            totals = table.sum(dim=tuple(range(batch_ndim, table.ndim)))
            return totals[..., None] * table.new_zeros(len(lattice.nodes))
        values = redundancies(merged_stack(table, batch_ndim, groups), lattice)
        return values.reshape(*batch, len(lattice.nodes))

    return on_table


# The measures whose atoms are the Moebius inversion of a torch redundancy of every node.
_REDUNDANCIES: dict[str, Callable[[Tensor, int, Groups, RedundancyLattice], Tensor]] = {
    "imin": _imin_redundancies,
    "mmi": _mmi_redundancies,
    "sx": _merged(sx_redundancies),
    "pm": _merged(pm_redundancies),
    "gk": _merged(gk_redundancies),
}


def _moebius(lattice: RedundancyLattice, redundancies: Tensor) -> Tensor:
    """Atoms from redundancies by the recursive subtraction of RedundancyLattice.atoms."""
    strictly = lattice.below & ~np.eye(len(lattice.nodes), dtype=bool)
    out: list[Tensor] = []
    for i in range(len(lattice.nodes)):
        lower = [out[j] for j in np.flatnonzero(strictly[i])]
        out.append(redundancies[..., i] - sum(lower) if lower else redundancies[..., i])
    return torch.stack(out, dim=-1)


def _two_source_atoms(
    lattice: RedundancyLattice, shared: Tensor, unique: tuple[Tensor, Tensor], synergy: Tensor
) -> Tensor:
    by_node = {((0,), (1,)): shared, ((0,),): unique[0], ((1,),): unique[1], ((0, 1),): synergy}
    return torch.stack([by_node[node] for node in lattice.nodes], dim=-1)


def _single(table: Tensor, batch_ndim: int, groups: Groups) -> tuple[Tensor, Tensor]:
    target = (table.ndim - batch_ndim - 1,)
    first, second = (mutual_information_nats(table, batch_ndim, g, target) for g in groups)
    return first, second


# Each measure's module in synergy.pid.measures: a registry entry whose functions live
# elsewhere (a user's replacement under the same name) has no torch form here.
_MODULES = {
    "imin": "synergy.pid.measures.imin",
    "mmi": "synergy.pid.measures.mmi",
    "imax": "synergy.pid.measures.imax",
    "broja": "synergy.pid.measures.broja",
    "sx": "synergy.pid.measures.sx",
    "pm": "synergy.pid.measures.pm",
    "gk": "synergy.pid.measures.gk",
}
#: Registered measures that synergy.torch.decompose differentiates ("vk" is "broja").
GRADIENT_MEASURES = ("broja", "gk", "imax", "imin", "mmi", "pm", "sx", "vk")


def _differentiable(record: Measure) -> bool:
    module = _MODULES.get(record.name)
    functions = (record.every_node, record.batched, record.redundancy, record.decomposition)
    return module is not None and any(
        getattr(f, "__module__", None) == module for f in functions if f is not None
    )


def decompose(
    p: Tensor,
    measure: str,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
    tol: float | None = None,
    max_iter: int | None = None,
) -> PIDResult[Tensor]:
    """Partial information decomposition with atoms as tensors that carry gradients.

    Parameters
    ----------
    p : Tensor of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table(s), target last unless ``target`` says otherwise,
        floating point, on any device; the leading ``batch_ndim`` axes index tables.
    measure : str
        A registered measure with a gradient: "imin", "mmi", "sx", "pm" or "gk" (2 to 4
        sources), "imax" (2) or "broja" (alias "vk", 2).
    sources : sequence of int or of sequences of int, optional
        Source groups as table axes; a group of several axes acts as one variable.
        Default: each axis but the target on its own. Axes in no group are summed out.
    target : int, keyword-only
        The target's axis, counted like ``sources``: a table axis (the batch axes do not
        count), negative from the end. Default: the last.
    base : float, keyword-only
        Logarithm base (2: bits).
    batch_ndim : int, keyword-only
        Number of leading batch axes.
    validate : bool, keyword-only
        Check that ``p`` holds probability tables (one device sync; turn off in hot loops).
    tol : float, optional, keyword-only
        For "broja"/"vk": the solver's duality gap, in the unit of ``base`` (default
        1e-10), as in :func:`union_information`.
    max_iter : int, optional, keyword-only
        For "broja"/"vk": the solver's iteration limit (default 200).

    Returns
    -------
    PIDResult
        The result object of :func:`synergy.pid.decompose`, with tensors of the batch
        shape (on the device and dtype of ``p``) for ``synergy``, ``redundancy``,
        ``unique``, every entry of ``atoms`` and ``redundancies``, and
        ``mutual_information``. For "broja", ``status`` and ``iterations`` are the
        solver's (str and int for one table, ndarrays for a batch) and ``gap`` a tensor;
        "exact", None and None for the closed forms.

    Raises
    ------
    InvalidParameterError
        If ``measure`` is not registered, or is registered but has no gradient here
        (the message lists those that do); if ``tol`` or ``max_iter`` are given to a
        closed-form measure; or the sources are invalid or too many for the measure.
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidTypeError
        If ``p`` is not a floating-point tensor, or an argument has the wrong type.

    See Also
    --------
    synergy.pid.decompose : The numpy function, every registered measure.

    Notes
    -----
    The atoms are those of :func:`synergy.pid.decompose`. "imin", "mmi", "sx", "pm" and
    "gk" fill the redundancy lattice with the torch closed forms and invert it (I_min:
    sum_y min over elements A of p(y) I(Y=y; A); I_mmi: min over A of I(A; Y); I_sx:
    sum p(s, t) log[P(U, t) / (p(t) P(U))], U the union of the events {A = a}; I_pm:
    sum p(s, t) [min_A h(a) - min_A h(a | t)]; I_GK: I(C; Y), C the Gacs-Korner common
    variable of the elements). "imax" and "broja" give
    the two-source atoms from a union information I_cup: synergy = I(X; Y) - I_cup,
    shared = I(X_1; Y) + I(X_2; Y) - I_cup, unique_i = I(X_i; Y) - shared. For "broja",
    I_cup = I_VK from :func:`union_information` (so UI_1 = I_VK - I(X_2; Y), which is
    I_Q*(Y; X_1 | X_2) at the optimum), with its envelope-theorem gradient. Where a min
    or max switches branch the gradient is that of the active branch, the mean of the
    tied ones at ties; S_VK's subgradients are described in :func:`union_information`.

    Zero cells: a pointwise term of I_sx or I_pm is 0 where its event has no mass at
    that target value (P(U, t) = 0, or max_A p(a, t) = 0), with a zero gradient there,
    as for 0 log 0; at other zero cells these redundancies are smooth and the gradient
    is exact. I_GK is piecewise constant in the support structure: C is read from which
    cells of p(x_1, ..., x_k) are zero (on the host, one device sync), and its gradient
    is that of I(C; Y) with the partition of C held fixed, the active branch. Moving
    mass into an empty source outcome, or emptying one, can change C and jump the value.

    Examples
    --------
    >>> import torch
    >>> from synergy.torch import decompose
    >>> from synergy.testing import AND
    >>> p = torch.tensor(AND, requires_grad=True)
    >>> result = decompose(p, "broja")
    >>> round(result.synergy.item(), 6)  # BROJA on AND: 0.5 bit (Bertschinger et al. 2014)
    0.5
    >>> result.synergy.backward()
    >>> p.grad.shape
    torch.Size([2, 2, 2])
    """
    record = get_measure(measure, func=_FUNC, param="measure")
    if not _differentiable(record):
        raise invalid(
            "measure",
            _FUNC,
            f"a measure with a gradient in synergy.torch, one of {list(GRADIENT_MEASURES)}",
            f"{measure!r}, which synergy.torch cannot differentiate (synergy.pid.decompose "
            "gives its values)",
        )
    solving = record.name == "broja"
    if not solving:
        for name, value in (("tol", tol), ("max_iter", max_iter)):
            if value is not None:
                raise invalid(
                    name,
                    _FUNC,
                    f"None for the closed-form measure {record.name!r} (it is for 'broja')",
                    repr(value),
                )
    tol = _DEFAULT_TOL if tol is None else tol
    max_iter = _DEFAULT_MAX_ITER if max_iter is None else max_iter
    check_solver_options(tol, max_iter, _FUNC)
    table, groups, log_base, batch_ndim = prepare(
        p,
        sources,
        func=_FUNC,
        base=base,
        batch_ndim=batch_ndim,
        validate=validate,
        min_sources=2,
        target=target,
    )
    record.check_sources(len(groups), _FUNC)
    lattice = redundancy_lattice(len(groups))
    last = (table.ndim - batch_ndim - 1,)
    whole = mutual_information_nats(table, batch_ndim, union(groups), last)
    diagnostics: dict[str, Any] = {"status": "exact", "gap": None, "iterations": None}
    if record.name in _REDUNDANCIES:
        redundancies = _REDUNDANCIES[record.name](table, batch_ndim, groups, lattice)
        atoms = _moebius(lattice, redundancies)
    else:
        if record.name == "imax":
            i_cup = i_max_nats(table, batch_ndim, groups)
        else:
            report: dict[str, Any] = {}
            i_cup = union_nats(
                table, batch_ndim, groups, float(tol) * abs(log_base), int(max_iter), report
            )
            diagnostics = _diagnostics(report, table, batch_ndim, log_base)
        first, second = _single(table, batch_ndim, groups)
        shared = first + second - i_cup
        atoms = _two_source_atoms(
            lattice, shared, (first - shared, second - shared), whole - i_cup
        )
    atoms = atoms / log_base
    below = torch.tensor(
        lattice.below.T.astype(np.float64), dtype=atoms.dtype, device=atoms.device
    )
    cumulative = atoms @ below
    atom_map = {node: atoms[..., j] for j, node in enumerate(lattice.nodes)}
    red_map = {node: cumulative[..., j] for j, node in enumerate(lattice.nodes)}
    return PIDResult(
        synergy=atom_map[lattice.top],
        redundancy=atom_map[lattice.bottom],
        unique=tuple(atom_map[((i,),)] for i in range(lattice.n_sources)),
        atoms=MappingProxyType(atom_map),
        redundancies=MappingProxyType(red_map),
        mutual_information=whole / log_base,
        measure=record.name,
        base=float(base),
        sources=sources_as_given(
            groups, resolve_target(target, table.ndim - batch_ndim, func=_FUNC)
        ),
        batch_shape=tuple(table.shape[:batch_ndim]),
        **diagnostics,
    )


def _diagnostics(
    report: dict[str, Any], table: Tensor, batch_ndim: int, log_base: float
) -> dict[str, Any]:
    """The solver's status, gap (a tensor, unit of ``base``) and iterations, batch-shaped."""
    batch = tuple(table.shape[:batch_ndim])
    status = np.asarray(report["status"]).reshape(batch)
    iterations = np.asarray(report["iterations"]).reshape(batch)
    gap = torch.as_tensor(
        np.asarray(report["gap"], dtype=np.float64).reshape(batch) / abs(log_base),
        dtype=table.dtype,
        device=table.device,
    )
    if not batch:
        return {"status": str(status), "gap": gap, "iterations": int(iterations)}
    return {"status": status, "gap": gap, "iterations": iterations}
