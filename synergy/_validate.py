"""Input checks shared by the whole library: error classes, one message template, tolerances.

Every public function validates through here, so that bad input reads the same everywhere:
"The `p` parameter of entropy must be ... Got ... instead."
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from synergy._kernels import table_checks

__all__ = [
    "InvalidDistributionError",
    "InvalidParameterError",
    "InvalidTypeError",
    "SynergyConvergenceWarning",
    "as_table",
    "check_base",
    "check_batch_ndim",
    "check_solver_options",
    "check_table_values",
    "describe",
    "invalid",
    "is_dataframe",
    "resolve_axes",
    "resolve_sources",
    "resolve_target",
    "resolve_target_sources",
    "sum_tolerance",
]


class InvalidDistributionError(ValueError):
    """A probability table is not a probability table (non-finite, negative, not normalised)."""


class InvalidParameterError(ValueError):
    """A parameter other than the data has a value outside what the function accepts."""


class InvalidTypeError(TypeError):
    """An argument has a type or dtype the function cannot work with."""


class SynergyConvergenceWarning(UserWarning):
    """An iterative solver stopped short of its tolerance; the message says which knob to turn."""


def describe(value: Any, *, limit: int = 60) -> str:
    """A short, readable rendering of a bad value for an error message."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} (type {type(value).__name__})"


def invalid(
    param: str,
    func: str,
    expected: str,
    got: str,
    *,
    kind: type[Exception] = InvalidParameterError,
    hint: str = "",
) -> Exception:
    """Build the library's one error message: parameter, function, expectation, what came.

    Returns the exception so that callers write ``raise invalid(...)`` and tracebacks
    point at the caller.
    """
    message = f"The `{param}` parameter of {func} must be {expected}. Got {got} instead."
    if hint:
        message = f"{message} {hint}"
    return kind(message)


def is_dataframe(value: Any) -> bool:
    """Whether ``value`` is a pandas DataFrame, told by its type: pandas is never imported."""
    cls = type(value)
    return cls.__name__ == "DataFrame" and cls.__module__.split(".")[0] == "pandas"


_SAMPLES_HINT = (
    "These look like samples (one row per sample, one column per variable, the target "
    "last): build the table with synergy.tables.from_samples, or estimate from the "
    "samples directly with synergy.estimators.estimate."
)
_COUNTS_HINT = (
    "These look like counts: pass them through synergy.tables.from_counts "
    "(or normalize=True where offered)."
)


def _looks_like_samples(arr64: np.ndarray, batch_ndim: int) -> bool:
    """A 2-D array of whole numbers with more rows than columns: how samples arrive."""
    return (
        batch_ndim == 0
        and arr64.ndim == 2
        and arr64.shape[0] > arr64.shape[1]
        and bool(np.isfinite(arr64).all())
        and bool(np.all(np.mod(arr64, 1.0) == 0.0))
    )


def _stack_hint(arr64: np.ndarray, batch_ndim: int, tol: float) -> str:
    """Say so when ``arr64`` is a stack of probability tables given without ``batch_ndim``.

    Tries one, then two, ... more leading axes as batch axes (keeping at least one table
    axis); the first split whose every table sums to 1 is the hint.
    """
    for extra in range(1, arr64.ndim - batch_ndim):
        lead = arr64.shape[: batch_ndim + extra]
        n_tables = math.prod(lead)
        if n_tables == 0:
            return ""
        sums = arr64.reshape(n_tables, -1).sum(axis=1)
        if np.all(np.abs(sums - 1.0) <= tol):
            stack = "x".join(str(n) for n in lead)
            count = stack if len(lead) == 1 else f"{stack} = {n_tables}"
            return (
                f"It looks like a stack of {count} tables: pass "
                f"batch_ndim={batch_ndim + extra} to measure each one."
            )
    return ""


@functools.lru_cache(maxsize=32)
def sum_tolerance(dtype: np.dtype[Any]) -> float:
    """How far a table's total may sit from 1: the square root of the dtype's epsilon.

    1.5e-8 for float64, 3.5e-4 for float32, 3.1e-2 for float16. Summation error grows
    far slower than this (pairwise summation: O(eps log n)), so a table that misses it
    was not normalised, rather than rounded.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    return float(np.sqrt(np.finfo(dtype).eps))


def check_base(base: Any, func: str) -> float:
    """Validate ``base`` and return ``log(base)``, the one factor every result is divided by."""
    if isinstance(base, bool) or not isinstance(base, numbers.Real):
        raise invalid(
            "base",
            func,
            "a real number > 0 and != 1",
            describe(base),
            kind=InvalidTypeError,
        )
    b = float(base)
    if not math.isfinite(b) or b <= 0.0 or b == 1.0:
        raise invalid("base", func, "a finite real number > 0 and != 1", repr(base))
    return math.log(b)


def check_solver_options(tol: Any, max_iter: Any, func: str) -> None:
    """Validate an iterative solver's ``tol`` (finite, > 0) and ``max_iter`` (int >= 1).

    None stands for "the function's default" and passes; S_VK's solvers, the BROJA atoms of
    ``decompose`` and their torch forms all check their options here.
    """
    if tol is not None:
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
            raise invalid(
                "tol", func, "a positive real number", describe(tol), kind=InvalidTypeError
            )
        if not (math.isfinite(float(tol)) and float(tol) > 0):
            raise invalid("tol", func, "a finite positive real number", repr(tol))
    if max_iter is not None:
        if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral):
            raise invalid(
                "max_iter", func, "a positive integer", describe(max_iter), kind=InvalidTypeError
            )
        if max_iter < 1:
            raise invalid("max_iter", func, "a positive integer", repr(max_iter))


def check_batch_ndim(batch_ndim: Any, func: str) -> int:
    if isinstance(batch_ndim, bool) or not isinstance(batch_ndim, numbers.Integral):
        raise invalid(
            "batch_ndim",
            func,
            "a non-negative integer",
            describe(batch_ndim),
            kind=InvalidTypeError,
        )
    if batch_ndim < 0:
        raise invalid("batch_ndim", func, "a non-negative integer", repr(batch_ndim))
    return int(batch_ndim)


def _check_dtype(arr: np.ndarray, param: str, func: str, *, from_frame: bool = False) -> None:
    # dtype.kind: "f" float, "i"/"u" integer; bool ("b"), complex, strings and objects fail.
    if arr.dtype.kind not in "fiu":
        raise invalid(
            param,
            func,
            "an array of real numbers (float or integer dtype)",
            f"{'a DataFrame of ' if from_frame else ''}dtype {arr.dtype}",
            kind=InvalidTypeError,
            hint=_SAMPLES_HINT if from_frame else "",
        )


def as_table(
    p: Any,
    *,
    param: str = "p",
    func: str,
    batch_ndim: int = 0,
    validate: bool = True,
    min_table_ndim: int = 1,
    normalized: bool = True,
    check_values: bool = True,
) -> np.ndarray:
    """Turn ``p`` into a float64 array of probability tables, checked unless ``validate=False``.

    Parameters
    ----------
    p : array_like of shape (*batch, n_1, ..., n_k)
        One table, or a batch of tables over the leading ``batch_ndim`` axes.
    normalized : bool
        If true each table must sum to 1 within :func:`sum_tolerance`; if false only
        finiteness and non-negativity are checked (counts, unnormalised weights).
    check_values : bool
        If false, check only type and shape: for callers that check the values in a
        fused kernel pass of their own and call again with it true to word an error.

    Returns
    -------
    ndarray of float64
        A C-contiguous array (a view when ``p`` already is one).
    """
    batch_ndim = check_batch_ndim(batch_ndim, func)
    from_frame = is_dataframe(p)
    try:
        arr = np.asarray(p)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise invalid(
            param, func, "an array_like of real numbers", describe(p), kind=InvalidTypeError
        ) from exc
    if not validate:
        return np.ascontiguousarray(arr, dtype=np.float64)
    _check_dtype(arr, param, func, from_frame=from_frame)
    table_ndim = arr.ndim - batch_ndim
    if table_ndim < min_table_ndim:
        raise invalid(
            param,
            func,
            f"an array with at least {min_table_ndim} table axes after "
            f"batch_ndim={batch_ndim} batch axes",
            f"an array with {arr.ndim} axes",
            kind=InvalidDistributionError,
        )
    # A batch of zero tables is a valid batch (a filtered batch can come out empty): only
    # the table axes must be non-empty, and an empty batch gets an empty answer.
    if 0 in arr.shape[batch_ndim:]:
        raise invalid(
            param,
            func,
            "a non-empty table (every axis of length >= 1)",
            f"an array of shape {arr.shape}",
            kind=InvalidDistributionError,
        )
    tol = sum_tolerance(arr.dtype)
    arr64 = np.ascontiguousarray(arr, dtype=np.float64)
    if not check_values:
        return arr64
    check_table_values(
        arr64,
        tol,
        param=param,
        func=func,
        batch_ndim=batch_ndim,
        normalized=normalized,
        from_frame=from_frame,
    )
    return arr64


def _as_axis(value: Any, ndim: int, param: str, func: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid(
            param,
            func,
            "an integer axis or a sequence of integer axes",
            describe(value),
            kind=InvalidTypeError,
        )
    axis = int(value)
    if not -ndim <= axis < ndim:
        raise invalid(
            param,
            func,
            f"axes in the range [-{ndim}, {ndim}) of a table with {ndim} axes",
            f"axis {axis}",
        )
    return axis % ndim


def resolve_axes(
    axes: Any,
    ndim: int,
    *,
    param: str,
    func: str,
    allow_empty: bool = False,
) -> tuple[int, ...]:
    """Normalise an axis or axis group of a table with ``ndim`` axes to sorted, unique ints.

    Negative axes count from the end of the *table* axes (batch axes never count).
    """
    if isinstance(axes, (numbers.Integral, np.integer)) and not isinstance(axes, bool):
        items: Iterable[Any] = (axes,)
    elif isinstance(axes, (str, bytes)) or not isinstance(axes, Iterable):
        raise invalid(
            param,
            func,
            "an integer axis or a sequence of integer axes",
            describe(axes),
            kind=InvalidTypeError,
        )
    else:
        items = tuple(axes)
    resolved = [_as_axis(a, ndim, param, func) for a in items]
    if len(set(resolved)) != len(resolved):
        raise invalid(param, func, "distinct axes", f"{list(items)!r} with an axis repeated")
    if not resolved and not allow_empty:
        raise invalid(param, func, "a non-empty group of axes", "an empty group")
    return tuple(sorted(resolved))


def check_disjoint(groups: Sequence[tuple[int, ...]], names: Sequence[str], func: str) -> None:
    """Raise if two named axis groups share an axis."""
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            shared = set(groups[i]) & set(groups[j])
            if shared:
                raise invalid(
                    names[j],
                    func,
                    f"axes disjoint from `{names[i]}`",
                    f"axes {sorted(shared)} in both",
                )


def resolve_target(target: Any, ndim: int, *, func: str, batch_ndim: int = 0) -> int:
    """Normalise ``target``, the target's axis in a table of ``ndim`` axes, to [0, ndim).

    Counted like ``sources=``: table axes only (the leading ``batch_ndim`` batch axes never
    count), negatives from the end, so -1 is the last axis.
    """
    expected = "an integer table axis, negative from the end (-1: the last axis)"
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise invalid("target", func, expected, describe(target), kind=InvalidTypeError)
    axis = int(target)
    if not -ndim <= axis < ndim:
        batch = f" (the batch_ndim={batch_ndim} batch axes are not counted)" if batch_ndim else ""
        raise invalid(
            "target",
            func,
            f"a table axis in the range [-{ndim}, {ndim}) of a table with {ndim} axes{batch}",
            f"axis {axis}",
        )
    return axis % ndim


def resolve_sources(
    sources: Any,
    ndim: int,
    *,
    func: str,
    param: str = "sources",
    min_sources: int = 1,
    target: int | None = None,
) -> tuple[tuple[int, ...], ...]:
    """Normalise ``sources`` (a list of axes or axis groups) for a table with a target axis.

    ``target`` is the target's axis as :func:`resolve_target` returns it; None means the
    last axis, for callers without a ``target`` parameter. ``None`` sources mean each axis
    but the target on its own. Groups must be non-empty, disjoint, and must not contain the
    target axis. The groups keep the table's own numbering.
    """
    if ndim < 2:
        raise invalid(
            "p",
            func,
            "a table with at least one source axis and the target axis last",
            f"a table with {ndim} axis",
            kind=InvalidDistributionError,
        )
    target_axis = ndim - 1 if target is None else target
    if sources is None:
        groups: tuple[tuple[int, ...], ...] = tuple((i,) for i in range(ndim) if i != target_axis)
    else:
        if isinstance(sources, (str, bytes, numbers.Number)) or not isinstance(sources, Iterable):
            raise invalid(
                param,
                func,
                "a sequence of axes or axis groups, such as [0, 1] or [(0, 1), (2,)]",
                describe(sources),
                kind=InvalidTypeError,
            )
        groups = tuple(resolve_axes(g, ndim, param=param, func=func) for g in sources)
    where = f"the last axis, {target_axis}" if target is None else f"`target`, axis {target_axis}"
    for g in groups:
        if target_axis in g:
            raise invalid(
                param,
                func,
                f"source axes that exclude the target ({where})",
                f"a group {list(g)!r} containing it",
            )
    seen: set[int] = set()
    for g in groups:
        if seen & set(g):
            raise invalid(param, func, "disjoint source groups", f"{[list(x) for x in groups]!r}")
        seen |= set(g)
    if len(groups) < min_sources:
        raise invalid(param, func, f"at least {min_sources} source groups", f"{len(groups)}")
    return groups


def resolve_target_sources(
    sources: Any,
    target: Any,
    ndim: int,
    *,
    func: str,
    batch_ndim: int = 0,
    param: str = "sources",
    min_sources: int = 1,
) -> tuple[int, tuple[tuple[int, ...], ...]]:
    """Check ``target`` and ``sources`` together: (target axis, groups with the target last).

    ``sources`` count the axes of the table as given; the groups come back renumbered for
    the same table with its target axis moved last (``np.moveaxis(p, target, -1)``), the
    layout every measure works on.
    """
    axis = resolve_target(target, ndim, func=func, batch_ndim=batch_ndim)
    groups = resolve_sources(
        sources, ndim, func=func, param=param, min_sources=min_sources, target=axis
    )
    return axis, tuple(tuple(a - (a > axis) for a in g) for g in groups)


def check_table_values(
    arr64: np.ndarray,
    tol: float,
    *,
    param: str,
    func: str,
    batch_ndim: int,
    normalized: bool = True,
    from_frame: bool = False,
) -> None:
    """Raise unless every table is finite, non-negative and, if normalised, sums to 1.

    The second half of :func:`as_table`, for callers that took ``check_values=False``
    and then decide how to check; ``tol`` comes from :func:`sum_tolerance` of the input's
    own dtype. ``from_frame`` says the values came from a DataFrame, which holds samples
    far more often than a table: the error then says how to make a table of them.
    """
    n_tables = math.prod(arr64.shape[:batch_ndim])
    n_cells = math.prod(arr64.shape[batch_ndim:])
    # One fused pass (row sums and a count of negative or non-finite cells); the slower
    # numpy passes below run only to word the error once something is wrong. The row
    # length is spelled out: -1 is ambiguous for a batch of zero tables.
    totals, n_bad = table_checks(arr64.reshape(n_tables, n_cells))
    if n_bad:
        if not np.isfinite(arr64).all():
            bad = float(arr64[~np.isfinite(arr64)].ravel()[0])
            raise invalid(
                param,
                func,
                "finite (no NaN or infinity)",
                f"a table containing {bad!r}",
                kind=InvalidDistributionError,
            )
        # Negative whole numbers are no counts, but are often labels (-1 / +1 spins).
        samples = from_frame or _looks_like_samples(arr64, batch_ndim)
        raise invalid(
            param,
            func,
            "non-negative",
            f"a table whose smallest entry is {float(arr64.min())!r}",
            kind=InvalidDistributionError,
            hint=_SAMPLES_HINT if samples else "",
        )
    if normalized:
        off = np.abs(totals - 1.0)
        if (off > tol).any():
            worst = float(totals[np.argmax(off)])
            whole = bool(np.all(np.equal(np.mod(arr64, 1.0), 0.0)))
            stack = "" if from_frame else _stack_hint(arr64, batch_ndim, tol)
            if stack:
                # Checked first: a stack of deterministic tables is whole numbers too.
                hint = stack
            elif from_frame or _looks_like_samples(arr64, batch_ndim):
                hint = f"{_SAMPLES_HINT} If they are counts, pass them through " + (
                    "synergy.tables.from_counts."
                )
            elif worst > 1.0 + tol and whole:
                hint = _COUNTS_HINT
            else:
                hint = ""
            where = "" if batch_ndim == 0 else " (per table over the table axes)"
            raise invalid(
                param,
                func,
                f"a probability table summing to 1 within {tol:.2g}{where}",
                f"a sum of {worst!r}",
                kind=InvalidDistributionError,
                hint=hint,
            )
    elif (totals <= 0).any():
        raise invalid(
            param,
            func,
            "a table with a positive total",
            "a table whose entries are all zero",
            kind=InvalidDistributionError,
        )
