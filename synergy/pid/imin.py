"""Williams-Beer I_min: redundancy as the least specific information any source gives.

Supplies the batched closed form i_min and the redundancy I_cap of every lattice node.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from synergy.information import as_result
from synergy.pid._plumbing import prepare, specific_informations, target_marginal
from synergy.pid.lattice import RedundancyLattice

__all__ = ["i_min", "imin_redundancies"]


def i_min(
    p: ArrayLike,
    sources: object = None,
    *,
    target: int = -1,
    base: float = 2,
    batch_ndim: int = 0,
    validate: bool = True,
) -> float | np.ndarray:
    """Williams-Beer redundancy I_min({A_i}; Y) = sum_y p(y) min_i I(Y=y; A_i).

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table(s), target last unless ``target`` says otherwise; the
        leading ``batch_ndim`` axes index tables.
    sources : sequence of int or of sequences of int, optional
        Source groups A_i as table axes; a group of several axes acts as one variable.
        Default: each axis but the target on its own. Axes in no group are summed out.
    target : int, keyword-only
        The target's axis, counted like ``sources``: a table axis (the batch axes do not
        count), negatives from the end. Default -1, the last axis.
    base : float, keyword-only
        Logarithm base (2: bits).
    batch_ndim : int, keyword-only
        Number of leading batch axes.
    validate : bool, keyword-only
        Check that ``p`` is a probability table (turn off in hot loops).

    Returns
    -------
    float or ndarray of shape batch
        I_min in units of ``base``, between 0 and min_i I(A_i; Y).

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a probability table.
    InvalidParameterError, InvalidTypeError
        If ``sources``, ``target``, ``base`` or ``batch_ndim`` are invalid, or a source
        contains the target axis.

    Notes
    -----
    With the specific information I(Y=y; A) = D_KL[P(A|y) || P(A)],
    I_min({A_i}; Y) = sum_y p(y) min_i I(Y=y; A_i). It is the redundancy of the bottom
    node {1}{2}...{k} of the Williams-Beer lattice; :func:`synergy.pid.decompose` with
    ``measure="imin"`` gives every atom.

    References
    ----------
    P. L. Williams and R. D. Beer, "Nonnegative decomposition of multivariate
    information", arXiv:1004.2515 (2010).

    Examples
    --------
    >>> import numpy as np
    >>> and_gate = np.zeros((2, 2, 2))
    >>> for x1 in (0, 1):
    ...     for x2 in (0, 1):
    ...         and_gate[x1, x2, x1 & x2] = 0.25
    >>> round(i_min(and_gate), 4)  # 3/4 log2(4/3) - ... : Williams & Beer (2010)
    0.3113
    """
    table, groups, log2_base, batch_ndim = prepare(
        p,
        sources,
        func="i_min",
        base=base,
        batch_ndim=batch_ndim,
        validate=validate,
        target=target,
    )
    spec = specific_informations(table, batch_ndim, groups)
    p_y = target_marginal(table, batch_ndim)
    return as_result(np.einsum("...y,...y->...", p_y, spec.min(axis=-2)) / log2_base, batch_ndim)


def imin_redundancies(
    table: np.ndarray,
    groups: tuple[tuple[int, ...], ...],
    lattice: RedundancyLattice,
    *,
    batch_ndim: int = 0,
) -> np.ndarray:
    """I_cap(alpha) in bits for every node of ``lattice``, shape (*batch, N).

    Each element of an antichain is the union of its sources (their axis groups merged);
    I_cap(alpha) = sum_y p(y) min_{A in alpha} I(Y=y; A) (Williams & Beer 2010, eq. 9).
    """
    subsets = lattice.subsets()
    unions = tuple(tuple(sorted(a for s in subset for a in groups[s])) for subset in subsets)
    # Specific information once per subset of sources (2^n - 1), then a min per node.
    spec = specific_informations(table, batch_ndim, unions)
    p_y = target_marginal(table, batch_ndim)
    where = {subset: i for i, subset in enumerate(subsets)}
    out = np.empty((*table.shape[:batch_ndim], len(lattice.nodes)))
    for j, node in enumerate(lattice.nodes):
        rows = [where[element] for element in node]
        out[..., j] = np.einsum("...y,...y->...", p_y, spec[..., rows, :].min(axis=-2))
    return out
