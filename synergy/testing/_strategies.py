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
    """Table shapes: ``min_axes`` to ``max_axes`` axes, each ``min_side`` to ``max_side`` long.

    Parameters
    ----------
    min_axes : int, default 2
        Fewest axes a shape has (two: one source and the target).
    max_axes : int, default 4
        Most axes a shape has.
    min_side : int, default 1
        Shortest length of an axis (the alphabet size of one variable).
    max_side : int, default 4
        Longest length of an axis.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of tuple of int
        A strategy drawing shapes as tuples of ints; hypothesis shrinks them towards fewer
        and shorter axes.

    Examples
    --------
    >>> from hypothesis import given
    >>> from synergy.testing import shapes
    >>> @given(shapes(min_axes=3, max_axes=3, max_side=2))
    ... def test_three_binary_axes_at_most(shape):
    ...     assert len(shape) == 3 and all(1 <= n <= 2 for n in shape)
    >>> test_three_binary_axes_at_most()
    """
    return st.lists(st.integers(min_side, max_side), min_size=min_axes, max_size=max_axes).map(
        tuple
    )


def tables(
    shape: Sequence[int] | st.SearchStrategy[tuple[int, ...]] | None = None,
    *,
    zeros: bool | None = None,
    min_mass: float = 0.0,
) -> st.SearchStrategy[np.ndarray]:
    """Random joint probability tables (float64, summing to 1), target last.

    Parameters
    ----------
    shape : tuple of int or strategy of tuple of int, optional
        The table's shape, or a strategy drawing it; default: :func:`shapes`.
    zeros : bool, optional
        True: cells may be exactly 0 (each drawn zero or not; at least one cell stays
        positive). False: every cell positive. None (default): either, drawn per table.
    min_mass : float, default 0.0
        Lower bound on each positive cell before normalisation (keeps tables away from
        the boundary where a test needs that). Cells are drawn from
        ``[max(min_mass, 1e-3), 1]``.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of ndarray
        A strategy drawing float64 arrays of the given shape whose cells are non-negative
        and sum to 1.

    Examples
    --------
    >>> from hypothesis import given
    >>> from synergy.testing import tables
    >>> @given(tables((2, 2, 2)))
    ... def test_sums_to_one(p):
    ...     assert abs(p.sum() - 1) < 1e-12
    >>> test_sums_to_one()
    """
    # A plain function in front of the composite so that the docs and numpydoc read this
    # signature and docstring (a composite's wrapper has no source to inspect).
    return _tables(shape, zeros=zeros, min_mass=min_mass)


@st.composite
def _tables(
    draw: st.DrawFn,
    shape: Sequence[int] | st.SearchStrategy[tuple[int, ...]] | None = None,
    *,
    zeros: bool | None = None,
    min_mass: float = 0.0,
) -> np.ndarray:
    """Draw one table for :func:`tables`."""
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
