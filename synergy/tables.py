"""Building and reshaping joint probability tables: counts, samples, marginals, conditionals.

Tables put one variable on each axis; the measures read the last axis as the target.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synergy import _kernels
from synergy._validate import (
    InvalidDistributionError,
    InvalidTypeError,
    as_table,
    describe,
    invalid,
    is_dataframe,
    resolve_axes,
)

__all__ = [
    "EncodedSamples",
    "SampleLabels",
    "condition",
    "encode_samples",
    "from_counts",
    "from_samples",
    "marginal",
]


def from_counts(counts: Any, *, batch_ndim: int = 0) -> np.ndarray:
    """Normalise a table of counts (or non-negative weights) into a probability table.

    Parameters
    ----------
    counts : array_like of shape (*batch, n_1, ..., n_k)
        Non-negative, finite counts; each table needs a positive total.
    batch_ndim : int, default 0
        Leading batch axes; each table is normalised on its own.

    Returns
    -------
    ndarray of float64, same shape
        The probability table(s).

    Raises
    ------
    InvalidDistributionError
        Negative, non-finite or all-zero counts; a table axis of length 0 (a batch axis of
        length 0 is an empty batch, returned as it is).
    InvalidTypeError
        A non-numeric dtype.

    Examples
    --------
    >>> from synergy.tables import from_counts
    >>> from_counts([[3, 1], [0, 4]])
    array([[0.375, 0.125],
           [0.   , 0.5  ]])
    """
    arr = as_table(
        counts, param="counts", func="from_counts", batch_ndim=batch_ndim, normalized=False
    )
    axes = tuple(range(batch_ndim, arr.ndim))
    return arr / arr.sum(axis=axes, keepdims=True)


def _is_column(column: Any) -> bool:
    """Whether ``column`` is an ordered, sized sequence: a list, tuple, range or array."""
    if isinstance(column, (str, bytes, bytearray)):
        return False
    if isinstance(column, Sequence):
        return True
    # ndarrays, pandas Series, tensors: sized and ordered, though not registered Sequences.
    return hasattr(column, "__array__") and hasattr(column, "__len__")


def _not_a_column(column: Any, param: str, func: str) -> Exception:
    if isinstance(column, (set, frozenset)):
        got = f"a {type(column).__name__}, which has no order to pair its samples with"
    elif isinstance(column, Mapping):
        got = f"a {type(column).__name__}: pass its values, in sample order"
    elif isinstance(column, Iterator):
        got = f"an iterator ({type(column).__name__}): pass a list of its items"
    else:
        got = describe(column)
    return invalid(
        param,
        func,
        "a 1-D sequence of labels (a list, tuple or 1-D array)",
        got,
        kind=InvalidTypeError,
    )


def _first_seen_codes(
    values: Sequence[Any], param: str, func: str, column: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Codes by Python equality (a dict), labels sorted when they can be, else first-seen."""
    seen: dict[Hashable, int] = {}
    try:
        codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values), np.int64, len(values))
    except TypeError as exc:
        raise invalid(
            param,
            func,
            "a 1-D sequence of hashable labels",
            describe(column),
            kind=InvalidTypeError,
        ) from exc
    distinct: list[Any] = list(seen)
    for v in distinct:
        if isinstance(v, (float, complex, np.floating, np.complexfloating)) and not np.isfinite(v):
            raise invalid(param, func, "finite labels", "NaN or infinity")
    try:
        order = sorted(range(len(distinct)), key=lambda i: distinct[i])
    except TypeError:  # labels of unorderable types (1 and "1"): keep first-seen order
        order = list(range(len(distinct)))
    rank = np.empty(len(distinct), dtype=np.int64)
    rank[order] = np.arange(len(distinct), dtype=np.int64)
    labels = np.empty(len(distinct), dtype=object)
    labels[:] = [distinct[i] for i in order]
    return rank[codes], labels


def _encode(column: Any, param: str, func: str) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and the sorted (or first-seen, if unorderable) labels of one column.

    Labels are told apart by Python equality: ``1`` and ``"1"`` stay two labels, as do
    ``b"a"`` and ``"a"``, while ``1`` and ``1.0`` (equal) are one. numpy's own conversion
    of a mixed list would turn every label into a string, so a list is converted by numpy
    only when its labels are all numbers, all ``str`` or all ``bytes``.
    """
    if not _is_column(column):
        raise _not_a_column(column, param, func)
    if isinstance(column, np.ndarray) or not isinstance(column, Sequence):
        try:
            arr = np.asarray(column)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise _not_a_column(column, param, func) from exc
        if arr.ndim != 1:
            raise invalid(
                param,
                func,
                "a 1-D sequence of labels",
                f"an array of shape {arr.shape}",
                kind=InvalidTypeError,
            )
    else:
        kinds = set(map(type, column))  # one pass in C: the types decide the conversion
        numeric = all(issubclass(t, (numbers.Number, np.bool_)) for t in kinds)
        uniform_text = len(kinds) == 1 and issubclass(next(iter(kinds)), (str, bytes))
        if not (numeric or uniform_text):
            # Tuples, None, mixed types: keep each label whole, as a Python object.
            return _first_seen_codes(column, param, func, column)
        arr = np.asarray(column)
    if arr.dtype.kind == "O":
        return _first_seen_codes(arr.tolist(), param, func, column)
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        raise invalid(param, func, "finite labels", "NaN or infinity")
    labels, codes = np.unique(arr, return_inverse=True)
    return codes.reshape(-1).astype(np.int64, copy=False), labels


def _split_columns(
    columns: Sequence[Any], func: str
) -> tuple[list[Any], list[str], tuple[Hashable, ...] | None]:
    """The columns to encode, the parameter name of each, and the column names if any.

    One DataFrame gives its columns in order (names kept); one 2-D array is read as
    (n_samples, n_variables), one column per variable, as scikit-learn reads ``X``.
    """
    if len(columns) == 1 and is_dataframe(columns[0]):
        frame = columns[0]
        names = tuple(frame.columns)
        cols = [frame.iloc[:, j] for j in range(frame.shape[1])]
        if not cols:
            raise invalid("columns", func, "a DataFrame with at least one column", "none")
        return cols, [f"columns[{name!r}]" for name in names], names
    if len(columns) == 1 and isinstance(columns[0], np.ndarray) and columns[0].ndim == 2:
        samples = columns[0]
        if samples.shape[1] == 0:
            raise invalid(
                "columns",
                func,
                "a 2-D array of shape (n_samples, n_variables) with n_variables >= 1",
                f"an array of shape {samples.shape}",
            )
        return list(samples.T), [f"columns[:, {j}]" for j in range(samples.shape[1])], None
    return list(columns), [f"columns[{i}]" for i in range(len(columns))], None


@dataclass(frozen=True)
class EncodedSamples:
    """Sample columns as integer codes: what a joint table of the samples is built from.

    Attributes
    ----------
    codes : tuple of ndarray of int64, each of shape (n_samples,)
        ``codes[i][s]`` is the index, into ``labels[i]``, of sample ``s``'s label in
        column ``i``.
    labels : tuple of ndarray
        ``labels[i][j]`` is the label behind code ``j`` of column ``i`` (sorted where the
        labels can be ordered, else in order of first appearance).
    names : tuple or None
        The column names of a DataFrame, in order; None for unnamed columns.
    """

    codes: tuple[np.ndarray, ...]
    labels: tuple[np.ndarray, ...]
    names: tuple[Hashable, ...] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of distinct labels of each column: the shape of the joint table."""
        return tuple(len(lab) for lab in self.labels)

    @property
    def n_samples(self) -> int:
        """Number of samples (rows)."""
        return len(self.codes[0])

    def cells(self) -> np.ndarray:
        """The cell of each sample in the joint table: one flat index per sample.

        Returns
        -------
        ndarray of int64, shape (n_samples,)
            The C-order flat index of sample ``s``'s cell in a table of shape
            :attr:`shape`: ``np.ravel_multi_index(codes, shape)``.

        Examples
        --------
        >>> from synergy.tables import encode_samples
        >>> encode_samples(["b", "a", "b"], [1, 1, 0]).cells()
        array([3, 1, 2])
        """
        return np.ravel_multi_index(self.codes, self.shape).astype(np.int64, copy=False)

    def counts(self) -> np.ndarray:
        """The joint count table: how many samples fall in each cell.

        Returns
        -------
        ndarray of float64, shape :attr:`shape`
            ``counts[i_1, ..., i_k]`` is the number of samples whose column ``j`` has the
            label ``labels[j][i_j]`` for every ``j``; the cells sum to :attr:`n_samples`.

        Examples
        --------
        >>> from synergy.tables import encode_samples
        >>> encode_samples(["b", "a", "b"], [1, 1, 0]).counts()
        array([[0., 1.],
               [1., 1.]])
        """
        counts = np.bincount(self.cells(), minlength=math.prod(self.shape))
        return counts.astype(np.float64).reshape(self.shape)


def encode_samples(*columns: Any, caller: str = "encode_samples") -> EncodedSamples:
    """Integer codes and labels of each sample column, as every sample-based function uses them.

    Parameters
    ----------
    *columns : sequences of hashable labels, one 2-D array, or one DataFrame
        Either one column per variable, each of length n_samples; or one array of shape
        (n_samples, n_variables), one column per variable; or one pandas DataFrame, its
        columns in order. Labels are told apart by Python equality (``1`` and ``"1"``
        are two labels, ``1`` and ``1.0`` one).
    caller : str, default "encode_samples"
        The function named in error messages, for functions that encode on a user's
        behalf.

    Returns
    -------
    EncodedSamples
        Per-column integer codes and labels, and the column names of a DataFrame.

    Raises
    ------
    InvalidParameterError
        No columns, columns of different lengths, empty columns, or more label
        combinations than an index can address.
    InvalidTypeError
        A column that is not an ordered sequence (a set, a mapping, an iterator, a
        scalar), or holds unhashable labels.

    Examples
    --------
    >>> from synergy.tables import encode_samples
    >>> enc = encode_samples(["b", "a", "b"], [1, 1, 0])
    >>> enc.codes[0], enc.labels[0]
    (array([1, 0, 1]), array(['a', 'b'], dtype='<U1'))
    >>> enc.shape, enc.n_samples
    ((2, 2), 3)
    """
    if not columns:
        raise invalid("columns", caller, "at least one sample column", "none")
    cols, params, names = _split_columns(columns, caller)
    encoded = [_encode(c, param, caller) for c, param in zip(cols, params, strict=True)]
    lengths = [len(codes) for codes, _ in encoded]
    if len(set(lengths)) != 1:
        raise invalid("columns", caller, "columns of equal length", f"lengths {lengths}")
    if lengths[0] == 0:
        raise invalid("columns", caller, "at least one sample", "empty columns")
    shape = tuple(len(labels) for _, labels in encoded)
    if math.prod(shape) > np.iinfo(np.intp).max:
        raise invalid(
            "columns",
            caller,
            "columns whose joint table (one cell per label combination) fits in memory",
            f"label counts {list(shape)}",
        )
    return EncodedSamples(
        codes=tuple(c for c, _ in encoded), labels=tuple(lab for _, lab in encoded), names=names
    )


class SampleLabels(tuple):
    """The labels of each axis of a sample table: a tuple, with the column names beside.

    Parameters
    ----------
    labels : iterable of ndarray
        ``labels[i][j]`` is the label of index ``j`` on axis ``i``.
    names : tuple or None, default None
        The column names (of a DataFrame), one per axis; None for unnamed columns.

    Attributes
    ----------
    names : tuple or None
        The column names, one per axis, or None.

    Examples
    --------
    >>> from synergy.tables import SampleLabels
    >>> labels = SampleLabels([["a", "b"], [0, 1]], names=("x", "y"))
    >>> labels[0], labels.names
    (['a', 'b'], ('x', 'y'))
    """

    names: tuple[Hashable, ...] | None

    def __new__(cls, labels: Any, names: tuple[Hashable, ...] | None = None) -> SampleLabels:
        self = super().__new__(cls, labels)
        self.names = None if names is None else tuple(names)
        return self


def from_samples(*columns: Any) -> tuple[np.ndarray, SampleLabels]:
    """Plug-in joint table of sample columns, a 2-D sample array or a DataFrame.

    Parameters
    ----------
    *columns : sequences of hashable labels, one 2-D array, or one DataFrame
        One column per variable, each of length n_samples (integer, string or any
        hashable labels); or one array of shape (n_samples, n_variables), read one
        column per variable as scikit-learn reads ``X``; or one pandas DataFrame, its
        columns in order. Put the target column last to use the table with the
        synergy measures. (A list of tuples is one column of tuple labels, not a 2-D
        array: pass ``np.asarray(rows)`` for that.)

    Returns
    -------
    table : ndarray of float64, shape (n_labels_1, ..., n_labels_k)
        Empirical joint frequencies.
    labels : SampleLabels
        A tuple: ``labels[i][j]`` is the label of index ``j`` on axis ``i`` (sorted where
        the labels can be ordered, else in order of first appearance).
        ``labels.names`` holds a DataFrame's column names (None otherwise).

    Raises
    ------
    InvalidParameterError
        No columns, columns of different lengths, or empty columns.
    InvalidTypeError
        A column that is not a sequence of hashable labels.

    See Also
    --------
    encode_samples : The integer codes behind the table.

    Examples
    --------
    >>> from synergy.tables import from_samples
    >>> table, labels = from_samples(["a", "b", "b", "b"], [0, 1, 1, 0])
    >>> table
    array([[0.25, 0.  ],
           [0.25, 0.5 ]])
    >>> labels[0]
    array(['a', 'b'], dtype='<U1')
    >>> import numpy as np
    >>> from_samples(np.array([["a", 0], ["b", 1], ["b", 1], ["b", 0]]))[0]
    array([[0.25, 0.  ],
           [0.25, 0.5 ]])
    """
    enc = encode_samples(*columns, caller="from_samples")
    return enc.counts() / enc.n_samples, SampleLabels(enc.labels, names=enc.names)


def _as_list(value: Any, param: str, func: str, expected: str) -> list[Any]:
    """One integer as a one-item list, a sequence of them as a list; anything else refused."""
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool):
        return [value]
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise invalid(param, func, expected, describe(value), kind=InvalidTypeError)
    return list(value)


def marginal(
    p: Any, axes: int | Sequence[int], *, batch_ndim: int = 0, validate: bool = True
) -> np.ndarray:
    """The marginal table over ``axes``, with the axes in the order given.

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k)
        Joint probability table.
    axes : int or sequence of int
        Table axes to keep; their order in the result follows this sequence.
    batch_ndim, validate
        As in :func:`synergy.entropy`.

    Returns
    -------
    ndarray of shape (*batch, n_axes[0], n_axes[1], ...)
        The marginal probabilities: ``p`` summed over every table axis not in ``axes``,
        with the kept axes in the order ``axes`` lists them (batch axes stay in front).

    Examples
    --------
    >>> from synergy.tables import marginal
    >>> from synergy.testing import AND
    >>> marginal(AND, 2)
    array([0.75, 0.25])
    >>> marginal(AND, [2, 0]).shape
    (2, 2)
    """
    arr = as_table(p, func="marginal", batch_ndim=batch_ndim, validate=validate)
    table_ndim = arr.ndim - batch_ndim
    order = _as_list(axes, "axes", "marginal", "an integer axis or a sequence of integer axes")
    resolve_axes(order, table_ndim, param="axes", func="marginal")  # checks range and repeats
    keep = tuple(int(a) % table_ndim for a in order)
    m = _kernels.marginal(arr, batch_ndim, keep)
    # Keeping every axis in order returns the table itself: the caller gets a copy.
    return arr.copy() if m is arr else m


def condition(
    p: Any,
    given: int | Sequence[int],
    outcome: int | Sequence[int],
    *,
    validate: bool = True,
) -> np.ndarray:
    """The conditional table of the other axes given the variables ``given`` took ``outcome``.

    Parameters
    ----------
    p : array_like of shape (n_1, ..., n_k)
        Joint probability table.
    given : int or sequence of int
        The conditioning axes.
    outcome : int or sequence of int
        The index each conditioning axis takes (same length as ``given``).
    validate : bool, default True
        Check that ``p`` is a probability table. Switch off only in hot loops.

    Returns
    -------
    ndarray
        p(rest | given = outcome), the remaining axes in their original order.

    Raises
    ------
    InvalidParameterError
        Bad axes, an outcome out of range, or every axis conditioned on.
    InvalidDistributionError
        The conditioning event has probability 0.

    Examples
    --------
    >>> from synergy.tables import condition
    >>> from synergy.testing import AND
    >>> condition(AND, 2, 1)
    array([[0., 0.],
           [0., 1.]])
    """
    arr = as_table(p, func="condition", validate=validate)
    axes_list = _as_list(
        given, "given", "condition", "an integer axis or a sequence of integer axes"
    )
    values = _as_list(
        outcome, "outcome", "condition", "an integer index or a sequence of integer indices"
    )
    resolve_axes(axes_list, arr.ndim, param="given", func="condition")
    axes_list = [int(a) % arr.ndim for a in axes_list]
    if len(values) != len(axes_list):
        raise invalid(
            "outcome",
            "condition",
            f"{len(axes_list)} indices, one per axis in `given`",
            f"{len(values)}",
        )
    if len(axes_list) == arr.ndim:
        raise invalid("given", "condition", "fewer axes than the table has", f"all {arr.ndim}")
    index: list[Any] = [slice(None)] * arr.ndim
    for ax, v in zip(axes_list, values, strict=True):
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, np.integer))
            or not 0 <= v < arr.shape[ax]
        ):
            raise invalid(
                "outcome", "condition", f"an index in [0, {arr.shape[ax]}) for axis {ax}", repr(v)
            )
        index[ax] = int(v)
    sub = arr[tuple(index)]
    mass = sub.sum()
    if mass <= 0:
        raise invalid(
            "outcome",
            "condition",
            "an event of positive probability",
            f"p({dict(zip(axes_list, values, strict=True))}) = 0",
            kind=InvalidDistributionError,
        )
    return sub / mass
