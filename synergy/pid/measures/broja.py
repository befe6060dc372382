"""BROJA (alias "vk"): the two-source decomposition from the union-information optimum.

The atoms are the unique and shared informations synergy.pid.union_information computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from synergy.pid.measures._common import two_source_atoms
from synergy.pid.registry import DecompositionAtoms, register_alias, register_decomposition

__all__ = ["broja_batched"]


def broja_batched(
    stack: np.ndarray, *, solver: str = "auto", tol: float = 1e-10, max_iter: int = 200
) -> DecompositionAtoms:
    """The BROJA atoms of two-source tables, in bits, with the solver's diagnostics.

    Parameters
    ----------
    stack : ndarray of shape (B, n_1, n_2, n_y)
        Merged tables, source 1, source 2, target last.
    solver : str, keyword-only
        Passed to :func:`synergy.pid.union_information`.
    tol : float, keyword-only
        Proven duality gap to reach, in bits; passed to
        :func:`synergy.pid.union_information` (same default).
    max_iter : int, keyword-only
        Iteration limit of each solver run; passed on likewise.

    Returns
    -------
    DecompositionAtoms
        ``values`` of shape (B, 4) in the order of ``redundancy_lattice(2).nodes``
        (redundancy {0}{1}, unique {0}, unique {1}, synergy {0,1}), and the solver's
        ``status``, ``gap`` (bits) and ``iterations`` per table.

    Notes
    -----
    With Q* the optimum of min I_Q(X; Y) s.t. Q(X_i, Y) = P(X_i, Y):
    synergy = I(X; Y) - I_Q*(X; Y), UI_1 = I_Q*(Y; X_1 | X_2), UI_2 = I_Q*(Y; X_2 | X_1),
    shared = I(X_1; Y) - UI_1. One table goes to the single-table solver, a stack to the
    batched one.

    References
    ----------
    N. Bertschinger, J. Rauh, E. Olbrich, J. Jost and N. Ay, "Quantifying unique
    information", Entropy 16 (2014).

    Examples
    --------
    >>> from synergy.testing import XOR
    >>> atoms = broja_batched(XOR[None]).values  # XOR: 1 bit of synergy, nothing else
    >>> [round(abs(float(v)), 9) for v in atoms[0]]
    [0.0, 0.0, 0.0, 1.0]
    """
    # Imported here so that registering the measure does not load the solver's kernels.
    from synergy.pid.vk import union_information

    if stack.shape[0] == 1:
        one: Any = union_information(
            stack[0], base=2, solver=solver, tol=tol, max_iter=max_iter, validate=False
        )
        return DecompositionAtoms(
            values=two_source_atoms([one.shared], [one.unique[0]], [one.unique[1]], [one.synergy]),
            status=np.array([str(one.status)], dtype=object),
            gap=None if one.gap is None else np.array([float(one.gap)]),
            iterations=None if one.iterations is None else np.array([int(one.iterations)]),
        )
    many: Any = union_information(
        stack, base=2, solver=solver, tol=tol, max_iter=max_iter, batch_ndim=1, validate=False
    )
    return DecompositionAtoms(
        values=two_source_atoms(many.shared, many.unique[0], many.unique[1], many.synergy),
        status=np.asarray(many.status),
        gap=np.asarray(many.gap, dtype=np.float64),
        iterations=np.asarray(many.iterations),
    )


register_decomposition(
    "broja", broja_batched, max_sources=2, options=("solver", "tol", "max_iter")
)
register_alias("vk", "broja")
