"""The measure table of the sample estimators: names, the functions they call, their options.

A measure bound to its options evaluates stacks of count tables, plug-in or corrected.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from synergy import information
from synergy._validate import InvalidTypeError, describe, invalid
from synergy.estimators._miller_madow import (
    Terms,
    _entropy_terms,
    _kwarg_axes,
    _miller_madow_term,
)
from synergy.estimators._plan import _Plan
from synergy.pid import decompose, i_max, i_min, s_max, wms
from synergy.pid.registry import get_measure
from synergy.pid.vk import s_vk, union_information


def _union_information_value(
    p: Any, sources: Any = None, *, base: float = 2, solver: str = "auto", validate: bool = True
) -> float:
    return union_information(p, sources, base=base, solver=solver, validate=validate).value


def _pid_atom(
    p: Any,
    sources: Any = None,
    *,
    atom: str,
    pid: str = "imin",
    source: int | None = None,
    base: float = 2,
    solver: str | None = None,
) -> float:
    result = decompose(p, pid, sources, base=base, solver=solver)
    if atom == "unique":
        n_sources = len(result.unique)
        if (
            isinstance(source, bool)
            or not isinstance(source, numbers.Integral)
            or not 0 <= source < n_sources
        ):
            raise invalid(
                "source",
                "estimate",
                f"the index of a source in [0, {n_sources}) for measure 'pid_unique'",
                describe(source),
            )
        return result.unique[int(source)]
    return result.synergy if atom == "synergy" else result.redundancy


def _pid(atom: str) -> Callable[..., float]:
    def atom_value(
        p: Any,
        sources: Any = None,
        *,
        pid: str = "imin",
        source: int | None = None,
        base: float = 2,
        solver: str | None = None,
    ) -> float:
        return _pid_atom(p, sources, atom=atom, pid=pid, source=source, base=base, solver=solver)

    atom_value.__name__ = f"pid_{atom}"
    return atom_value


# The function each measure name calls on a table.
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "entropy": information.entropy,
    "conditional_entropy": information.conditional_entropy,
    "mutual_information": information.mutual_information,
    "conditional_mutual_information": information.conditional_mutual_information,
    "wms": wms,
    "i_max": i_max,
    "s_max": s_max,
    "i_min": i_min,
    "s_vk": s_vk,
    "union_information": _union_information_value,
    "pid_synergy": _pid("synergy"),
    "pid_redundancy": _pid("redundancy"),
    "pid_unique": _pid("unique"),
}
#: Measure names :func:`estimate` accepts. The ``pid_*`` names call
#: :func:`synergy.decompose` with ``pid=`` (any name of :func:`synergy.pid.measure_names`,
#: including measures registered later; default "imin") and, for "pid_unique", ``source=``
#: (the source's index).
MEASURE_NAMES: tuple[str, ...] = tuple(_FUNCTIONS)
# Measures that only make sense with a target column and at least one source column.
_NEEDS_TARGET = frozenset(MEASURE_NAMES) - {"entropy", "conditional_entropy"}
_BY_FUNCTION = {id(f): name for name, f in _FUNCTIONS.items()}


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    # Only a named parameter counts: a **kwargs catch-all may not honour batch_ndim.
    return name in params and params[name].kind is not inspect.Parameter.POSITIONAL_ONLY


class _Statistic(Protocol):
    def statistic(self, counts: np.ndarray, n_total: int, *, corrected: bool) -> np.ndarray:
        """Values on a stack of count tables: shape (B,) or (B, k)."""
        ...


@dataclass(frozen=True)
class _Measure:
    """A measure bound to its options, evaluated on stacks of count tables."""

    name: str
    func: Callable[..., Any]
    kwargs: dict[str, Any]
    base: float
    log_base: float
    batched: bool
    pass_base: bool
    pass_validate: bool
    terms: Terms | None
    correction: str | None
    # Axes whose cells a permutation test shuffles within: `given` of a conditional MI.
    strata: tuple[int, ...] = ()

    def call(self, table: np.ndarray, *, validate: bool, batch_ndim: int = 0) -> Any:
        kwargs = dict(self.kwargs)
        if self.pass_base:
            kwargs["base"] = self.base
        if self.pass_validate:
            kwargs["validate"] = validate
        if batch_ndim:
            kwargs["batch_ndim"] = batch_ndim
        return self.func(table, **kwargs)

    def scalar(self, value: Any) -> float:
        arr = np.asarray(value)
        if arr.ndim != 0 or not np.issubdtype(arr.dtype, np.number):
            raise invalid(
                "measure",
                "estimate",
                "a function of a table returning one real number",
                f"a function returning {describe(value)}",
                kind=InvalidTypeError,
                hint="Wrap it, e.g. lambda p: decompose(p, 'imin').synergy.",
            )
        return float(arr)

    def plugin(self, tables: np.ndarray) -> np.ndarray:
        """The plug-in value of each table of the stack (shape (B, *table_shape)) -> (B,)."""
        if self.batched:
            values = self.call(tables, validate=False, batch_ndim=1)
            return np.asarray(values, dtype=np.float64).reshape(tables.shape[0])
        return np.array([self.scalar(self.call(t, validate=False)) for t in tables])

    def miller_madow(self, counts: np.ndarray, n_total: int) -> np.ndarray:
        """The Miller-Madow term of each table of the stack, in the unit of base."""
        assert self.terms is not None
        return _miller_madow_term(self.terms, counts, n_total, self.log_base)

    def statistic(self, counts: np.ndarray, n_total: int, *, corrected: bool) -> np.ndarray:
        """The statistic on a stack of count tables summing to ``n_total`` each."""
        values = self.plugin(counts / n_total)
        if corrected and self.correction == "miller-madow":
            values = values + self.miller_madow(counts, n_total)
        return values


def _resolve_measure(
    measure: Any, n_columns: int, plan: _Plan, kwargs: dict[str, Any]
) -> _Measure:
    """``measure`` bound to its options and the plan's base and correction, checked."""
    func = plan.func
    correction = plan.correction
    if isinstance(measure, str):
        if measure not in _FUNCTIONS:
            raise invalid(
                "measure", func, f"one of {list(MEASURE_NAMES)} or a callable", repr(measure)
            )
        name = measure
        target = _FUNCTIONS[name]
    elif callable(measure):
        target = measure
        name = _BY_FUNCTION.get(id(measure), getattr(measure, "__name__", type(measure).__name__))
    else:
        raise invalid(
            "measure",
            func,
            f"one of {list(MEASURE_NAMES)} or a callable taking a table",
            describe(measure),
            kind=InvalidTypeError,
        )
    known = name in _FUNCTIONS and _FUNCTIONS[name] is target
    if known and name.startswith("pid_") and "pid" in kwargs:
        # The decomposition comes from the PID registry: any registered name is accepted.
        get_measure(kwargs["pid"], func=func, param="pid")
    if known and name in _NEEDS_TARGET and n_columns < 2:
        raise invalid(
            "columns",
            func,
            f"at least 2 sample columns (sources first, target last) for measure {name!r}",
            f"{n_columns} column",
        )
    terms = _entropy_terms(name, n_columns, kwargs) if known else None
    if correction == "miller-madow" and terms is None:
        raise invalid(
            "correction",
            func,
            "None or 'bootstrap' for a measure that is not a sum of entropies (Miller-Madow "
            "corrects entropy, conditional_entropy, mutual_information, "
            "conditional_mutual_information and wms)",
            f"'miller-madow' with measure {name!r}",
        )
    strata: tuple[int, ...] = ()
    if known and name == "conditional_mutual_information":
        strata = _kwarg_axes(kwargs, "given", n_columns, name)
    return _Measure(
        strata=strata,
        name=name,
        func=target,
        kwargs=dict(kwargs),
        base=plan.base,
        log_base=plan.log_base,
        batched=_accepts(target, "batch_ndim"),
        pass_base=_accepts(target, "base"),
        pass_validate=_accepts(target, "validate"),
        terms=terms,
        correction=correction,
    )
