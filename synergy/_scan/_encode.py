"""Coding a recording once: every column becomes small integer codes, -1 where missing.

Binning and factorising happen here, per column, so no table of the scan ever looks at labels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synergy._validate import InvalidTypeError, describe, invalid

__all__ = ["MAX_FLOAT_LEVELS", "Coded", "encode", "equal_frequency_bins"]

#: A float column with more distinct values than this needs ``bins``: its plug-in tables
#: would be one sample per cell.
MAX_FLOAT_LEVELS = 32

_FUNC = "scan"


@dataclass(frozen=True)
class Coded:
    """A recording as codes: ``codes[s, v]`` in [0, levels[v]), -1 where missing."""

    codes: np.ndarray
    names: tuple[Hashable, ...]
    levels: tuple[int, ...]

    def fingerprint(self) -> str:
        """A digest of the codes, so a resumed scan can tell it is reading the same data."""
        return hashlib.sha256(np.ascontiguousarray(self.codes).tobytes()).hexdigest()[:32]


def equal_frequency_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """Codes in [0, bins) from the rank of each value among the finite-or-infinite values.

    A value's bin is ``floor(bins * r / n)``, with ``r`` the number of values strictly below
    it and ``n`` the number of non-missing values: equal values always share a bin (the bin
    of the first of them in sorted order), so ties can leave bins uneven or empty. NaN is
    missing (-1).
    """
    codes = np.full(values.shape, -1, dtype=np.int32)
    present = ~np.isnan(values)
    kept = values[present]
    if kept.size:
        below = np.searchsorted(np.sort(kept), kept, side="left")
        codes[present] = (below * bins) // kept.size
    return codes


def _check_bins(bins: Any) -> int | None:
    if bins is None:
        return None
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)):
        raise invalid(
            "bins", _FUNC, "None or an integer >= 2", describe(bins), kind=InvalidTypeError
        )
    if bins < 2:
        raise invalid("bins", _FUNC, "None or an integer >= 2", repr(bins))
    return int(bins)


def _frame(data: Any, names: Any) -> tuple[Any, tuple[Hashable, ...]]:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        frame = data
        default: Sequence[Hashable] = list(data.columns)
    else:
        try:
            arr = np.asarray(data)
        except (TypeError, ValueError) as exc:
            raise invalid(
                "data",
                _FUNC,
                "a pandas DataFrame or a 2-D array of shape (n_samples, n_variables)",
                describe(data),
                kind=InvalidTypeError,
            ) from exc
        if arr.ndim != 2:
            raise invalid(
                "data",
                _FUNC,
                "a pandas DataFrame or a 2-D array of shape (n_samples, n_variables)",
                describe(arr),
            )
        frame = pd.DataFrame(arr)
        default = list(range(arr.shape[1]))
    if names is None:
        labels = tuple(default)
    else:
        if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
            raise invalid(
                "names",
                _FUNC,
                "None or a sequence of one name per variable",
                describe(names),
                kind=InvalidTypeError,
            )
        labels = tuple(names)
        if len(labels) != frame.shape[1]:
            raise invalid(
                "names",
                _FUNC,
                f"{frame.shape[1]} names, one per variable",
                f"{len(labels)} names",
            )
    try:
        distinct = len(set(labels))
    except TypeError as exc:
        raise invalid(
            "names", _FUNC, "hashable names", describe(labels), kind=InvalidTypeError
        ) from exc
    if distinct != len(labels):
        repeated = sorted({repr(n) for n in labels if labels.count(n) > 1})
        raise invalid("names", _FUNC, "distinct variable names", f"repeats {repeated}")
    if frame.shape[0] == 0:
        raise invalid("data", _FUNC, "at least one sample", "no rows")
    return frame, labels


def _column_codes(column: Any, name: Hashable, bins: int | None) -> tuple[np.ndarray, int]:
    import pandas as pd
    from pandas.api import types

    numeric = types.is_numeric_dtype(column.dtype) and not types.is_bool_dtype(column.dtype)
    if numeric:
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        distinct = int(pd.unique(values[~np.isnan(values)]).size)
        if bins is not None and distinct > bins:
            return equal_frequency_bins(values, bins), bins
        if types.is_float_dtype(column.dtype) and distinct > MAX_FLOAT_LEVELS:
            raise invalid(
                "data",
                _FUNC,
                f"discrete columns (a float column may hold at most {MAX_FLOAT_LEVELS} distinct "
                "values unless `bins` is given)",
                f"column {name!r} with {distinct} distinct float values",
                hint="Pass bins=k (--bins K) to cut numeric columns into k equal-frequency bins.",
            )
    try:
        codes, uniques = pd.factorize(column, sort=True)
    except TypeError:  # labels that cannot be ordered keep their order of first appearance
        codes, uniques = pd.factorize(column, sort=False)
    return codes.astype(np.int32), max(len(uniques), 1)


def encode(data: Any, *, names: Any = None, bins: Any = None) -> Coded:
    """Codes of every column of ``data`` (DataFrame or 2-D array), missing values as -1."""
    n_bins = _check_bins(bins)
    frame, labels = _frame(data, names)
    codes = np.empty(frame.shape, dtype=np.int32)
    levels = []
    for j, name in enumerate(labels):
        codes[:, j], n_levels = _column_codes(frame.iloc[:, j], name, n_bins)
        levels.append(n_levels)
    return Coded(codes, labels, tuple(levels))
