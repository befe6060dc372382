"""Hypothesis strategies for random probability tables, for the library's and users' tests.

Importing this module imports hypothesis; ``import synergy.testing`` does so lazily.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st

__all__ = ["shapes", "tables"]


def shapes(
    *, min_axes: int = 2, max_axes: int = 4, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[tuple[int, ...]]:
    """Table shapes: ``min_axes`` to ``max_axes`` axes, each ``min_side`` to ``max_side`` long."""
    return st.lists(st.integers(min_side, max_side), min_size=min_axes, max_size=max_axes).map(
        tuple
    )


@st.composite
def tables(
    draw: st.DrawFn,
    shape: Sequence[int] | st.SearchStrategy[tuple[int, ...]] | None = None,
    *,
    zeros: bool | None = None,
    min_mass: float = 0.0,
) -> np.ndarray:
    """Random joint probability tables (float64, summing to 1), target last.

    Parameters
    ----------
    shape : tuple of int or strategy, optional
        The table's shape; default: :func:`shapes`.
    zeros : bool, optional
        True: some cells are exactly 0 (at least one cell stays positive). False: every
        cell positive. None (default): either.
    min_mass : float
        Lower bound on each positive cell before normalisation (keeps tables away from
        the boundary where a test needs that).

    Examples
    --------
    >>> from hypothesis import given
    >>> from synergy.testing import tables
    >>> @given(tables((2, 2, 2)))
    ... def test_sums_to_one(p):
    ...     assert abs(p.sum() - 1) < 1e-12
    >>> test_sums_to_one()
    """
    if shape is None:
        shape = shapes()
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    shape = tuple(int(s) for s in shape)
    size = int(np.prod(shape))
    weights = draw(
        st.lists(
            st.floats(min_value=max(min_mass, 1e-3), max_value=1.0),
            min_size=size,
            max_size=size,
        )
    )
    w = np.asarray(weights, dtype=np.float64)
    use_zeros = draw(st.booleans()) if zeros is None else zeros
    if use_zeros and size > 1:
        mask = np.asarray(draw(st.lists(st.booleans(), min_size=size, max_size=size)))
        if mask.all():
            mask[draw(st.integers(0, size - 1))] = False
        w = np.where(mask, 0.0, w)
    return (w / w.sum()).reshape(shape)
