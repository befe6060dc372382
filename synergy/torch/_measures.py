"""The redundancies of the registered closed-form measures I_sx, I_pm and I_GK on tensors.

Each fills every node of the redundancy lattice, in nats, for synergy.torch.decompose; the
definitions, and the numbers they must equal, are those of synergy.pid.measures.
"""

from __future__ import annotations

import math

import numpy as np

from synergy.pid.lattice import RedundancyLattice
from synergy.pid.measures.gk import common_variable
from synergy.pid.measures.sx import _shared_events
from synergy.torch._information import mutual_information_nats
from synergy.torch._pid import Groups
from synergy.torch._tensor import Tensor, marginal, torch

__all__ = ["gk_redundancies", "merged_stack", "pm_redundancies", "sx_redundancies"]


def merged_stack(table: Tensor, batch_ndim: int, groups: Groups) -> Tensor:
    """One axis per source group and the target last, batch flattened: (B, n_G1, ..., n_y).

    The layout synergy.pid.registry.merge_sources hands the numpy measures; axes in no
    group are summed out, the axes of a group become one variable in C order.
    """
    target = table.ndim - batch_ndim - 1
    used = tuple(sorted(a for g in groups for a in g))
    kept = marginal(table, batch_ndim, (*used, target))
    position = {a: i for i, a in enumerate(used)}
    order = [
        *range(batch_ndim),
        *(batch_ndim + position[a] for g in groups for a in g),
        kept.ndim - 1,
    ]
    sizes = [math.prod(table.shape[batch_ndim + a] for a in g) for g in groups]
    n_batch = math.prod(table.shape[:batch_ndim])
    return kept.permute(order).reshape(n_batch, *sizes, table.shape[-1])


def _safe_log(x: Tensor, where: Tensor) -> Tensor:
    """log x where ``where`` holds, 0 elsewhere, with no log of 0 in value or gradient."""
    return torch.where(where, torch.log(torch.where(where, x, torch.ones_like(x))), 0.0)


def sx_redundancies(stack: Tensor, lattice: RedundancyLattice) -> Tensor:
    """I_sx of every node in nats, shape (B, N) (Makkeh, Gutknecht & Wibral 2021).

    I_sx(alpha) = sum_{s,t} p(s, t) log[P(U, T = t) / (p(t) P(U))], U the union of the
    events {A_i = a_i} over the elements A_i of alpha at the source outcome s.

    The pointwise term is 0 where P(U, T = t) = 0 (so p(s, t) = 0: 0 log 0), with a zero
    gradient there. At a zero cell whose union event has mass, the term is smooth in
    p(s, t) and its gradient is the exact one, the pointwise value.
    """
    n_batch, n_y = stack.shape[0], stack.shape[-1]
    shape = tuple(stack.shape[1:-1])
    joint = stack.reshape(n_batch, -1, n_y)
    p_y = joint.sum(dim=1, keepdim=True)
    values = []
    for alpha in lattice.nodes:
        events = _shared_events(shape, alpha)  # read-only and cached: copied here
        match = torch.tensor(events, dtype=stack.dtype, device=stack.device)
        union_joint = match @ joint  # P(U, T = t), (B, cells, n_y)
        union = union_joint.sum(dim=2, keepdim=True)  # P(U)
        # P(U, T = t) > 0 implies P(U) > 0 and p(t) > 0: one mask guards all three logs.
        has_mass = union_joint > 0
        pointwise = (
            _safe_log(union_joint, has_mass)
            - _safe_log(union.expand_as(union_joint), has_mass)
            - _safe_log(p_y.expand_as(union_joint), has_mass)
        )
        values.append((joint * pointwise).sum(dim=(1, 2)))
    return torch.stack(values, dim=-1)


def _element_marginals(stack: Tensor, element: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """P(A, T) and P(A) for A the union of ``element``'s sources, broadcastable to stack."""
    drop = [i + 1 for i in range(stack.ndim - 2) if i not in element]
    p_at = stack.sum(dim=drop, keepdim=True) if drop else stack
    return p_at, p_at.sum(dim=-1, keepdim=True)


def pm_redundancies(stack: Tensor, lattice: RedundancyLattice) -> Tensor:
    """I_pm of every node in nats, shape (B, N) (Finn & Lizier 2018).

    r(s, t) = min_i h(a_i) - min_i h(a_i | t) with h = -log, that is
    log max_i p(a_i, t) - log p(t) - log max_i p(a_i), averaged over p(s, t).

    The pointwise term is 0 where max_i p(a_i, t) = 0 (so p(s, t) = 0), with a zero gradient
    there; at other zero cells it is smooth in p(s, t) and its gradient is exact. Where
    elements tie for the maximum, the gradient is the mean of the tied branches' (that of
    ``torch.amax``).
    """
    p_y = stack.sum(dim=tuple(range(1, stack.ndim - 1)), keepdim=True)
    values = []
    for alpha in lattice.nodes:
        pairs = [_element_marginals(stack, element) for element in alpha]
        shape = stack.shape
        best_joint = torch.stack([p_at.expand(shape) for p_at, _ in pairs]).amax(dim=0)
        best_marginal = torch.stack([p_a.expand(shape) for _, p_a in pairs]).amax(dim=0)
        # max_i p(a_i, t) > 0 implies p(t) > 0 and max_i p(a_i) > 0.
        has_mass = best_joint > 0
        pointwise = (
            _safe_log(best_joint, has_mass)
            - _safe_log(p_y.expand(shape), has_mass)
            - _safe_log(best_marginal, has_mass)
        )
        values.append((stack * pointwise).reshape(shape[0], -1).sum(dim=1))
    return torch.stack(values, dim=-1)


def gk_redundancies(stack: Tensor, lattice: RedundancyLattice) -> Tensor:
    """I_GK of every node in nats, shape (B, N): I(C; Y), C the Gacs-Korner common variable.

    C is read from the support of p(x_1, ..., x_k) by synergy.pid.measures.gk's
    ``common_variable`` (on the host: one device sync), so the partition of the source
    outcomes is the numpy measure's. It is fixed in the backward pass: the gradient is
    that of I(C; Y) for this partition, a function that is constant in the support
    structure and jumps where a cell becomes zero or positive. Source outcomes outside
    the support share one label of zero mass.
    """
    n_batch, n_y = stack.shape[0], stack.shape[-1]
    support = (stack.detach().sum(dim=-1) > 0).cpu().numpy()
    joint = stack.reshape(n_batch, -1, n_y)
    n_labels = joint.shape[1] + 1
    values = []
    for alpha in lattice.nodes:
        labels = common_variable(support, alpha).reshape(n_batch, -1)
        index = torch.as_tensor(labels.astype(np.int64), device=stack.device)
        by_label = joint.new_zeros(n_batch, n_labels, n_y).scatter_add(
            1, index[:, :, None].expand(-1, -1, n_y), joint
        )
        values.append(mutual_information_nats(by_label, 1, (0,), (1,)))
    return torch.stack(values, dim=-1)
