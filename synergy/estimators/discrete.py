"""From samples to measures: plug-in and Miller-Madow values, bootstrap intervals, permutations.

Sample columns are encoded once; resampled count tables are built or drawn a batch at a time.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
from scipy.special import ndtr, ndtri

from synergy import information
from synergy._validate import (
    InvalidParameterError,
    InvalidTypeError,
    check_base,
    describe,
    invalid,
    resolve_axes,
    resolve_sources,
)
from synergy.pid import decompose, i_max, i_min, s_max, wms
from synergy.pid.lattice import Antichain
from synergy.pid.registry import get_measure
from synergy.pid.result import PIDResult, format_antichain
from synergy.pid.vk import s_vk, union_information
from synergy.tables import encode_samples

__all__ = [
    "MEASURE_NAMES",
    "DecompositionEstimate",
    "Estimate",
    "bootstrap",
    "estimate",
    "estimate_decomposition",
    "miller_madow_entropy",
    "miller_madow_mutual_information",
    "permutation_test",
]

Terms = tuple[tuple[float, tuple[int, ...]], ...]

_CORRECTIONS = (None, "miller-madow", "bootstrap")
_METHODS = ("percentile", "basic", "bca")
_ALTERNATIVES = ("greater", "less")
_RESAMPLINGS = ("auto", "indices", "tables")
# Elements (resample rows x max(n_samples, n_cells)) held at once: about 32 MB of int64.
_CHUNK_ELEMENTS = 1 << 22


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


@dataclass(frozen=True)
class Estimate:
    """A measure estimated from samples: point value, interval, test, and how they were made.

    Attributes
    ----------
    value : float
        The point estimate, in the unit of ``base``: the plug-in value, or the corrected one
        when ``correction`` is set.
    interval : tuple of float or None
        Bootstrap confidence interval (low, high) at ``level``; None when no bootstrap ran.
    level : float or None
        Confidence level of ``interval``.
    method : str or None
        How the interval was made: "percentile", "basic" or "bca".
    correction : str or None
        None (plug-in), "miller-madow" or "bootstrap" (bias subtracted: 2 value - mean).
    plugin : float
        The plug-in value of the measure on the empirical table.
    standard_error : float or None
        Standard deviation of the bootstrap values (None with fewer than 2 resamples).
    p_value : float or None
        Permutation p-value, (k + 1) / (n_permutations + 1); None when no test ran.
    alternative : str or None
        "greater" (large values are evidence against independence) or "less".
    n : int
        Number of samples.
    n_resamples : int
        Bootstrap resamples drawn (0 if none).
    n_permutations : int
        Permutations drawn (0 if none).
    seed : int or None
        The seed that reproduces this result (drawn from the OS and recorded when None was
        given); None when a ``numpy.random.Generator`` was passed.
    measure : str
        The measure's name.
    base : float
        Logarithm base of every value (2: bits).
    resampling : str or None
        How resampled and permuted count tables were made: "indices" (index arrays and
        one bincount) or "tables" (drawn directly: Multinomial(n, p_hat) resamples, random
        contingency tables with the observed margins for permutations).
    bootstrap_values : ndarray of shape (n_resamples,) or None
        The statistic on each resample (corrected when ``correction="miller-madow"``).
    null_values : ndarray of shape (n_permutations,) or None
        The plug-in statistic on each permutation of the target column.
    """

    value: float
    interval: tuple[float, float] | None
    level: float | None
    method: str | None
    correction: str | None
    plugin: float
    standard_error: float | None
    p_value: float | None
    alternative: str | None
    n: int
    n_resamples: int
    n_permutations: int
    seed: int | None
    measure: str
    base: float = 2.0
    resampling: str | None = None
    bootstrap_values: np.ndarray | None = field(default=None, repr=False, compare=False)
    null_values: np.ndarray | None = field(default=None, repr=False, compare=False)

    def _unit(self) -> str:
        return {2.0: "bits", math.e: "nats", 10.0: "dits"}.get(
            float(self.base), f"log base {self.base:g}"
        )

    def __repr__(self) -> str:
        parts = [f"{self.measure}={self.value:.6g} {self._unit()}"]
        if self.correction is not None:
            parts.append(f"correction={self.correction!r} (plug-in {self.plugin:.6g})")
        if self.interval is not None and self.level is not None:
            low, high = self.interval
            parts.append(
                f"{100 * self.level:g}% {self.method} interval [{low:.6g}, {high:.6g}]"
                f" from {self.n_resamples} resamples"
            )
        if self.p_value is not None:
            parts.append(
                f"p={self.p_value:.4g} ({self.alternative}, {self.n_permutations} permutations)"
            )
        parts += [f"n={self.n}", f"seed={self.seed}"]
        return "Estimate(" + ", ".join(parts) + ")"


# --------------------------------------------------------------------------- measures


def _accepts(func: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    # Only a named parameter counts: a **kwargs catch-all may not honour batch_ndim.
    return name in params and params[name].kind is not inspect.Parameter.POSITIONAL_ONLY


def _mi_terms(a: tuple[int, ...], b: tuple[int, ...], coef: float = 1.0) -> Terms:
    return ((coef, a), (coef, b), (-coef, tuple(sorted(a + b))))


def _kwarg_axes(kwargs: dict[str, Any], key: str, ndim: int, func: str) -> tuple[int, ...]:
    if key not in kwargs:
        raise invalid(
            key,
            func,
            f"given as a keyword argument (table axes, one per sample column) for "
            f"measure {func!r}",
            "nothing",
        )
    return resolve_axes(kwargs[key], ndim, param=key, func=func, allow_empty=key == "given")


def _entropy_terms(name: str, ndim: int, kwargs: dict[str, Any]) -> Terms | None:
    """The measure as a signed sum of marginal entropies, or None if it is not one.

    Miller-Madow corrects each entropy in the sum; this is how it reaches the MIs and WMS.
    """
    target = (ndim - 1,)
    everything = tuple(range(ndim))
    if name == "entropy":
        axes = kwargs.get("axes")
        return ((1.0, everything if axes is None else _kwarg_axes(kwargs, "axes", ndim, name)),)
    if name == "conditional_entropy":
        a = _kwarg_axes(kwargs, "axes", ndim, name)
        c = _kwarg_axes(kwargs, "given", ndim, name)
        return ((1.0, tuple(sorted(a + c))), (-1.0, c))
    if name == "mutual_information":
        ga = everything[:-1] if kwargs.get("a") is None else _kwarg_axes(kwargs, "a", ndim, name)
        gb = target if kwargs.get("b") is None else _kwarg_axes(kwargs, "b", ndim, name)
        return _mi_terms(ga, gb)
    if name == "conditional_mutual_information":
        a = _kwarg_axes(kwargs, "a", ndim, name)
        b = _kwarg_axes(kwargs, "b", ndim, name)
        c = _kwarg_axes(kwargs, "given", ndim, name)
        return (
            (1.0, tuple(sorted(a + c))),
            (1.0, tuple(sorted(b + c))),
            (-1.0, tuple(sorted(a + b + c))),
            (-1.0, c),
        )
    if name == "wms":
        groups = resolve_sources(kwargs.get("sources"), ndim, func=name)
        whole = tuple(sorted({a for g in groups for a in g}))
        terms = list(_mi_terms(whole, target))
        for g in groups:
            terms += _mi_terms(g, target, -1.0)
        return tuple(terms)
    return None


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
        """The Miller-Madow term sum_k c_k (m_k - 1) / (2 N) per table, in the unit of base."""
        assert self.terms is not None
        out = np.zeros(counts.shape[0])
        ndim = counts.ndim - 1
        for coef, axes in self.terms:
            if not axes:
                continue  # H of nothing is 0 with one cell: no correction
            drop = tuple(1 + a for a in range(ndim) if a not in axes)
            marg = counts.sum(axis=drop) if drop else counts
            cells = np.count_nonzero(marg.reshape(counts.shape[0], -1), axis=1)
            out += coef * (cells - 1)
        return out / (2.0 * n_total * self.log_base)

    def statistic(self, counts: np.ndarray, n_total: int, *, corrected: bool) -> np.ndarray:
        """The statistic on a stack of count tables summing to ``n_total`` each."""
        values = self.plugin(counts / n_total)
        if corrected and self.correction == "miller-madow":
            values = values + self.miller_madow(counts, n_total)
        return values


def _resolve_measure(
    measure: Any,
    n_columns: int,
    *,
    func: str,
    base: Any,
    correction: Any,
    kwargs: dict[str, Any],
) -> _Measure:
    log_base = check_base(base, func)
    if correction not in _CORRECTIONS:
        raise invalid(
            "correction",
            func,
            "None, 'miller-madow' or 'bootstrap'",
            describe(correction),
            kind=InvalidParameterError if isinstance(correction, str) else InvalidTypeError,
        )
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
        base=float(base),
        log_base=log_base,
        batched=_accepts(target, "batch_ndim"),
        pass_base=_accepts(target, "base"),
        pass_validate=_accepts(target, "validate"),
        terms=terms,
        correction=correction,
    )


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class _Samples:
    """Sample columns as integer codes: one flat cell index per sample, target last."""

    shape: tuple[int, ...]
    flat: np.ndarray  # (n,) cell index of each sample in the C-ordered table
    n: int

    @property
    def n_cells(self) -> int:
        return int(np.prod(self.shape))

    def counts(self) -> np.ndarray:
        return (
            np.bincount(self.flat, minlength=self.n_cells).astype(np.float64).reshape(self.shape)
        )


def _encode_columns(columns: Sequence[Any], func: str) -> _Samples:
    """Sample columns, a 2-D sample array or a DataFrame, as flat cell indices."""
    enc = encode_samples(*columns, caller=func)
    flat = np.ravel_multi_index(enc.codes, enc.shape)
    return _Samples(shape=enc.shape, flat=np.asarray(flat, dtype=np.int64), n=enc.n_samples)


def _stack_counts(flat_codes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Count tables of each row of ``flat_codes`` (rows, n): one bincount over offset codes."""
    rows = flat_codes.shape[0]
    n_cells = int(np.prod(shape))
    offset = flat_codes + (np.arange(rows, dtype=np.int64) * n_cells)[:, None]
    counts = np.bincount(offset.ravel(), minlength=rows * n_cells)
    return counts.astype(np.float64).reshape(rows, *shape)


def _chunk_rows(total: int, n: int, n_cells: int) -> int:
    return max(1, min(total, _CHUNK_ELEMENTS // max(n, n_cells, 1)))


def _check_count(value: Any, param: str, func: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise invalid(
            param, func, f"an integer >= {minimum}", describe(value), kind=InvalidTypeError
        )
    if value < minimum:
        raise invalid(param, func, f"an integer >= {minimum}", repr(value))
    return int(value)


def _check_level(level: Any, func: str) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real):
        raise invalid(
            "level", func, "a real number in (0, 1)", describe(level), kind=InvalidTypeError
        )
    if not 0.0 < float(level) < 1.0:
        raise invalid("level", func, "a real number in (0, 1), such as 0.95", repr(level))
    return float(level)


def _check_choice(value: Any, param: str, func: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise invalid(
            param,
            func,
            "one of " + ", ".join(repr(c) for c in choices),
            describe(value),
            kind=InvalidParameterError if isinstance(value, str) else InvalidTypeError,
        )
    return value


def _streams(seed: Any, func: str) -> tuple[np.random.Generator, np.random.Generator, int | None]:
    """Independent generators for the bootstrap and the permutations, and the seed to record.

    Spawning two streams from one SeedSequence makes ``estimate(seed=s)`` give the same
    interval as ``bootstrap(seed=s)`` and the same p-value as ``permutation_test(seed=s)``.
    """
    if isinstance(seed, np.random.Generator):
        return seed, seed, None
    if seed is None:
        sequence = np.random.SeedSequence()
        recorded: int | None = int(sequence.entropy)  # type: ignore[arg-type]
    elif isinstance(seed, np.random.SeedSequence):
        sequence = seed
        recorded = int(seed.entropy) if not seed.spawn_key else None  # type: ignore[arg-type]
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if seed < 0:
            raise invalid("seed", func, "a non-negative integer, a Generator or None", repr(seed))
        sequence = np.random.SeedSequence(int(seed))
        recorded = int(seed)
    else:
        raise invalid(
            "seed",
            func,
            "a non-negative integer, a numpy Generator or SeedSequence, or None",
            describe(seed),
            kind=InvalidTypeError,
        )
    boot, perm = sequence.spawn(2)
    return np.random.default_rng(boot), np.random.default_rng(perm), recorded


# --------------------------------------------------------------------------- bootstrap


def _bootstrap_indices(
    rng: np.random.Generator, n_resamples: int, n: int, chunk: int
) -> Iterator[np.ndarray]:
    """Resample indices, rng.integers(0, n, size=(rows, n)) chunk by chunk."""
    for start in range(0, n_resamples, chunk):
        yield rng.integers(0, n, size=(min(chunk, n_resamples - start), n))


def _bootstrap_values(
    m: _Statistic,
    samples: _Samples,
    n_resamples: int,
    rng: np.random.Generator,
    resampling: str = "indices",
) -> np.ndarray:
    if resampling == "tables":
        # The count table of a resample is Multinomial(n, p_hat): drawing it directly costs
        # O(n_cells) per resample instead of O(n), and has exactly the same law.
        p_hat = samples.counts().ravel() / samples.n
        chunk = _chunk_rows(n_resamples, samples.n_cells, samples.n_cells)
        parts = []
        for start in range(0, n_resamples, chunk):
            rows = min(chunk, n_resamples - start)
            counts = rng.multinomial(samples.n, p_hat, size=rows).astype(np.float64)
            parts.append(
                m.statistic(counts.reshape(rows, *samples.shape), samples.n, corrected=True)
            )
        return np.concatenate(parts)
    chunk = _chunk_rows(n_resamples, samples.n, samples.n_cells)
    parts = [
        m.statistic(_stack_counts(samples.flat[idx], samples.shape), samples.n, corrected=True)
        for idx in _bootstrap_indices(rng, n_resamples, samples.n, chunk)
    ]
    return np.concatenate(parts)


def _jackknife(m: _Statistic, samples: _Samples) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out values per occupied cell and how many samples share that cell.

    Removing any one of the samples in a cell gives the same table, so n leave-one-out
    fits reduce to one per occupied cell, weighted by its count.
    """
    counts = np.bincount(samples.flat, minlength=samples.n_cells).astype(np.float64)
    cells = np.flatnonzero(counts)
    values = []
    chunk = _chunk_rows(cells.size, samples.n_cells, samples.n_cells)
    for start in range(0, cells.size, chunk):
        rows = cells[start : start + chunk]
        stack = np.repeat(counts[None, :], rows.size, axis=0)
        stack[np.arange(rows.size), rows] -= 1.0
        values.append(
            m.statistic(stack.reshape(rows.size, *samples.shape), samples.n - 1, corrected=True)
        )
    return np.concatenate(values), counts[cells]


def _interval(
    method: str,
    theta: float,
    boot: np.ndarray,
    level: float,
    jackknife: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[float, float]:
    alpha = 1.0 - level
    if method == "percentile":
        low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        return float(low), float(high)
    if method == "basic":
        low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
        return float(2 * theta - high), float(2 * theta - low)
    assert jackknife is not None
    values, weights = jackknife
    b = boot.size
    # Mid-rank share of resamples below theta, kept off 0 and 1 so z0 stays finite when
    # every resample falls on one side (discrete statistics do that).
    below = np.count_nonzero(boot < theta) + np.count_nonzero(boot <= theta)
    share = float(below) / (2.0 * b)
    share = min(max(share, 0.5 / b), 1.0 - 0.5 / b)
    z0 = float(ndtri(share))
    centre = float(np.average(values, weights=weights))
    d = centre - values
    spread = float(np.sum(weights * d**2))
    accel = float(np.sum(weights * d**3)) / (6.0 * spread**1.5) if spread > 0 else 0.0
    z = ndtri(np.array([alpha / 2, 1 - alpha / 2]))
    shrink = 1.0 - accel * (z0 + z)
    if (shrink <= 0).any():
        # Only for |acceleration| beyond about 1 / (z0 + z): BCa has no interval there.
        raise invalid(
            "method",
            "bootstrap",
            "'percentile' or 'basic' for this sample: the BCa acceleration is too large",
            f"'bca' with acceleration {accel:.3g}",
        )
    probs = ndtr(z0 + (z0 + z) / shrink)
    low, high = np.quantile(boot, probs)
    return float(low), float(high)


# --------------------------------------------------------------------------- permutations


def _random_tables(joint: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` random contingency tables with the row and column sums of ``joint`` (r, c).

    The law of the table when one variable is shuffled against the other. Zero margins are
    dropped before calling scipy and a margin with a single non-zero entry leaves one
    possible table: scipy 1.17's Patefield sampler returns negative counts in both cases.
    """
    from scipy.stats import random_table

    rows = joint.sum(axis=1)
    cols = joint.sum(axis=0)
    keep_r = np.flatnonzero(rows)
    keep_c = np.flatnonzero(cols)
    out = np.zeros((size, *joint.shape))
    if keep_r.size <= 1 or keep_c.size <= 1:
        out[:] = joint
        return out
    law = random_table(rows[keep_r].astype(np.int64), cols[keep_c].astype(np.int64))
    out[:, keep_r[:, None], keep_c[None, :]] = law.rvs(size=size, random_state=rng)
    return out


def _null_values(
    m: _Statistic,
    samples: _Samples,
    n_permutations: int,
    rng: np.random.Generator,
    resampling: str = "indices",
    strata: tuple[int, ...] = (),
) -> np.ndarray:
    """The statistic with the target shuffled against the sources, within ``strata`` if given.

    ``strata`` are source axes held fixed together with the target's pairing inside each of
    their cells: the null of conditional independence given them.
    """
    n_y = samples.shape[-1]
    ndim = len(samples.shape)
    shuffled = tuple(a for a in range(ndim - 1) if a not in strata)
    if resampling == "tables":
        # Shuffling Y leaves both margins of each stratum's (other sources x Y) count table
        # fixed and makes it a random contingency table with those margins, which scipy
        # draws directly (Patefield 1981) in O(cells) instead of O(n).
        order = (*strata, *shuffled, ndim - 1)
        counts = np.transpose(samples.counts(), order)
        n_strata = int(np.prod([samples.shape[a] for a in strata], dtype=np.int64))
        blocks = counts.reshape(n_strata, -1, n_y)
        inverse = np.argsort(order)
        chunk = _chunk_rows(n_permutations, samples.n_cells, samples.n_cells)
        parts = []
        for start in range(0, n_permutations, chunk):
            rows = min(chunk, n_permutations - start)
            stack = np.zeros((rows, *blocks.shape))
            for c in range(n_strata):
                if blocks[c].any():
                    stack[:, c] = _random_tables(blocks[c], rows, rng)
            stack = stack.reshape(rows, *counts.shape).transpose(0, *(1 + inverse))
            parts.append(m.statistic(np.ascontiguousarray(stack), samples.n, corrected=False))
        return np.concatenate(parts)
    sources, target = np.divmod(samples.flat, n_y)
    chunk = _chunk_rows(n_permutations, samples.n, samples.n_cells)
    parts = []
    if strata:
        codes = np.unravel_index(samples.flat, samples.shape)
        stratum = np.ravel_multi_index(
            tuple(codes[a] for a in strata), tuple(samples.shape[a] for a in strata)
        )
        # Positions grouped by stratum; a random key sorted within each stratum permutes
        # the targets inside it and nowhere else.
        grouped = np.argsort(stratum, kind="stable")
    for start in range(0, n_permutations, chunk):
        rows = min(chunk, n_permutations - start)
        if strata:
            keys = rng.random((rows, samples.n))
            shuffled_order = np.lexsort((keys, np.broadcast_to(stratum, keys.shape)), axis=-1)
            perm = np.empty_like(shuffled_order)
            perm[:, grouped] = shuffled_order
        else:
            perm = rng.permuted(np.tile(np.arange(samples.n, dtype=np.int64), (rows, 1)), axis=1)
        flat = sources[None, :] * n_y + target[perm]
        parts.append(m.statistic(_stack_counts(flat, samples.shape), samples.n, corrected=False))
    return np.concatenate(parts)


def _p_value(observed: float, null: np.ndarray, alternative: str) -> float:
    # Tables equal to the observed one must count as ties despite rounding in the batch.
    slack = 1e-12 * max(1.0, abs(observed))
    if alternative == "greater":
        hits = np.count_nonzero(null >= observed - slack)
    else:
        hits = np.count_nonzero(null <= observed + slack)
    return float((hits + 1.0) / (null.size + 1.0))


# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class _Options:
    """Checked resampling options shared by every entry point."""

    n_resamples: int
    level: float | None
    method: str | None
    n_permutations: int
    alternative: str | None
    correction: str | None
    resampling: str | None


def _check_options(
    func: str,
    samples: _Samples,
    *,
    n_resamples: int,
    level: Any,
    method: Any,
    n_permutations: int,
    alternative: Any,
    correction: str | None,
    resampling: Any = "auto",
) -> _Options:
    level_value = _check_level(level, func) if n_resamples else None
    method_value = _check_choice(method, "method", func, _METHODS) if n_resamples else None
    alt = (
        _check_choice(alternative, "alternative", func, _ALTERNATIVES) if n_permutations else None
    )
    if n_permutations and len(samples.shape) < 2:
        raise invalid(
            "columns",
            func,
            "at least 2 sample columns for a permutation test (the last one is shuffled)",
            f"{len(samples.shape)} column",
        )
    if method_value == "bca" and samples.n < 2:
        raise invalid("method", func, "'percentile' or 'basic' with one sample", "'bca'")
    resamples = n_resamples or n_permutations
    how = _check_choice(resampling, "resampling", func, _RESAMPLINGS) if resamples else None
    if how == "auto":
        how = "tables" if samples.n > samples.n_cells else "indices"
    return _Options(n_resamples, level_value, method_value, n_permutations, alt, correction, how)


def _resample(
    stat: _Statistic,
    samples: _Samples,
    plugin: np.ndarray,
    theta: np.ndarray,
    opts: _Options,
    boot_rng: np.random.Generator,
    perm_rng: np.random.Generator,
    *,
    seed: int | None,
    names: Sequence[str],
    base: float,
) -> list[Estimate]:
    """Bootstrap and permutation results for k statistics at once, one Estimate each.

    ``plugin`` and ``theta`` (corrected) have shape (k,); ``stat`` returns (B,) or (B, k).
    """
    k = plugin.size
    boot = jack = null = None
    if opts.n_resamples:
        boot = _bootstrap_values(
            stat, samples, opts.n_resamples, boot_rng, opts.resampling or "indices"
        ).reshape(-1, k)
        if opts.method == "bca":
            values, weights = _jackknife(stat, samples)
            jack = (values.reshape(-1, k), weights)
    if opts.n_permutations:
        null = _null_values(
            stat,
            samples,
            opts.n_permutations,
            perm_rng,
            opts.resampling or "indices",
            getattr(stat, "strata", ()),
        ).reshape(-1, k)
    out = []
    for j in range(k):
        interval = standard_error = p_value = None
        value = float(theta[j])
        boot_j = None if boot is None else np.ascontiguousarray(boot[:, j])
        null_j = None if null is None else np.ascontiguousarray(null[:, j])
        if boot_j is not None:
            assert opts.method is not None
            assert opts.level is not None
            jack_j = None if jack is None else (jack[0][:, j], jack[1])
            interval = _interval(opts.method, value, boot_j, opts.level, jack_j)
            if boot_j.size > 1:
                standard_error = float(np.std(boot_j, ddof=1))
            if opts.correction == "bootstrap":
                value = float(2.0 * theta[j] - boot_j.mean())
        if null_j is not None:
            assert opts.alternative is not None
            p_value = _p_value(float(plugin[j]), null_j, opts.alternative)
        out.append(
            Estimate(
                value=value,
                interval=interval,
                level=opts.level,
                method=opts.method,
                correction=opts.correction,
                plugin=float(plugin[j]),
                standard_error=standard_error,
                p_value=p_value,
                alternative=opts.alternative,
                n=samples.n,
                n_resamples=opts.n_resamples,
                n_permutations=opts.n_permutations,
                seed=seed,
                measure=names[j],
                base=base,
                resampling=opts.resampling,
                bootstrap_values=boot_j,
                null_values=null_j,
            )
        )
    return out


def _run(
    func: str,
    measure: Any,
    columns: Sequence[Any],
    *,
    base: Any,
    correction: Any,
    n_resamples: int,
    level: Any,
    method: Any,
    n_permutations: int,
    alternative: Any,
    seed: Any,
    kwargs: dict[str, Any],
    resampling: Any = "auto",
) -> Estimate:
    samples = _encode_columns(columns, func)
    m = _resolve_measure(
        measure, len(samples.shape), func=func, base=base, correction=correction, kwargs=kwargs
    )
    opts = _check_options(
        func,
        samples,
        n_resamples=n_resamples,
        level=level,
        method=method,
        n_permutations=n_permutations,
        alternative=alternative,
        correction=correction,
        resampling=resampling,
    )
    if opts.n_permutations and m.strata:
        target = len(samples.shape) - 1
        used = resolve_axes(m.kwargs.get("a"), target + 1, param="a", func=func) + resolve_axes(
            m.kwargs.get("b"), target + 1, param="b", func=func
        )
        if target in m.strata or target not in used:
            raise invalid(
                "columns",
                func,
                "the shuffled (last) column in `a` or `b` for a permutation test of "
                "conditional_mutual_information",
                f"column {target} in {'`given`' if target in m.strata else 'neither'}",
            )
    boot_rng, perm_rng, recorded = _streams(seed, func)
    counts = samples.counts()
    # The one validated call: it surfaces the measure's own errors (bad sources, axes,
    # options) under the measure's name; resamples then skip validation.
    plugin = m.scalar(m.call(counts / samples.n, validate=True))
    theta = plugin
    if correction == "miller-madow":
        theta = plugin + float(m.miller_madow(counts[None], samples.n)[0])
    (result,) = _resample(
        m,
        samples,
        np.array([plugin]),
        np.array([theta]),
        opts,
        boot_rng,
        perm_rng,
        seed=recorded,
        names=[m.name],
        base=float(base),
    )
    return result


def estimate(
    measure: str | Callable[..., Any],
    *columns: Sequence[Any],
    base: float = 2,
    correction: str | None = None,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    method: str = "percentile",
    n_permutations: int = 0,
    alternative: str = "greater",
    seed: int | np.random.Generator | np.random.SeedSequence | None = None,
    resampling: str = "auto",
    **measure_kwargs: Any,
) -> Estimate:
    r"""Estimate a measure from sample columns: point value, bootstrap interval, permutation test.

    Parameters
    ----------
    measure : str or callable
        A name from ``MEASURE_NAMES`` ("entropy", "conditional_entropy",
        "mutual_information", "conditional_mutual_information", "wms", "i_max", "s_max",
        "i_min", "s_vk", "union_information", "pid_synergy", "pid_redundancy",
        "pid_unique"), or a callable ``table -> float`` such as :func:`synergy.s_max`. A
        callable that accepts ``batch_ndim`` is evaluated on all resamples at once; others
        are called once per resample. ``base`` and ``validate`` are passed when accepted.
    *columns : sequences of hashable labels, one 2-D array, or one DataFrame
        One column per variable, each of length n_samples, sources first, the target
        last; or one array of shape (n_samples, n_variables), or one pandas DataFrame,
        read column by column in that order (see :func:`synergy.tables.encode_samples`).
        The joint table has one axis per column, its labels those seen in the full
        sample (fixed across resamples).
    base : float, keyword-only
        Logarithm base of every value (2: bits).
    correction : {None, "miller-madow", "bootstrap"}, keyword-only
        None reports the plug-in value. "miller-madow" adds (m - 1) / (2 N) nats to every
        entropy the measure is built from (the entropy-sum measures only). "bootstrap"
        subtracts the bootstrap estimate of the bias: 2 plug-in - mean(resamples).
    n_bootstrap : int, keyword-only
        Bootstrap resamples (>= 1).
    level : float, keyword-only
        Confidence level of the interval, in (0, 1).
    method : {"percentile", "basic", "bca"}, keyword-only
        Interval: percentile; basic (reflected, 2 value - quantiles: centred on the
        bootstrap bias-corrected value); BCa (bias-corrected and accelerated, acceleration
        from the jackknife).
    n_permutations : int, keyword-only
        Permutations of the target column for a test of "no dependence on the sources"
        (0: no test).
    alternative : {"greater", "less"}, keyword-only
        Which tail of the null counts as evidence: "greater" for MI and synergies.
    seed : int, numpy Generator or SeedSequence, optional, keyword-only
        Seeds everything; with None a fresh seed is drawn and recorded in the result.
    resampling : {"auto", "indices", "tables"}, keyword-only
        How resampled and permuted count tables are made (the same law either way).
        "indices": resample indices (or permutations), one bincount for all tables,
        O(n) per table. "tables": count tables drawn directly, O(n_cells) per table:
        Multinomial(n, p_hat) for the bootstrap, and for permutations random
        contingency tables (sources x target) with the observed margins
        (``scipy.stats.random_table``). "auto": "tables" when n exceeds the number of
        cells, else "indices".
    **measure_kwargs
        Passed to the measure: ``sources=``, ``axes=``, ``a=``/``b=``/``given=``,
        ``solver=``, and for "pid_*" ``pid=`` (a registered PID measure, see
        :func:`synergy.pid.measure_names`; default "imin") and ``source=``.

    Returns
    -------
    Estimate
        ``value`` (in the unit of ``base``), ``interval``, ``p_value`` and how they were made.

    Raises
    ------
    InvalidParameterError
        Columns of unequal length or empty; fewer than 2 columns for a measure with a
        target or for a permutation test; ``n_bootstrap < 1``; ``n_permutations < 0``;
        ``level`` outside (0, 1); unknown ``measure``, ``correction``, ``method`` or
        ``alternative``; Miller-Madow asked of a measure that is not a sum of entropies.
    InvalidTypeError
        Arguments of the wrong type; a callable that does not return one number.

    Notes
    -----
    Miller-Madow: :math:`\hat H_{MM} = \hat H + (m - 1) / (2 N)` nats, m the number of
    occupied cells of the marginal, N the number of samples; an MI's correction follows
    from those of its entropies, :math:`I_{MM} = H_{MM}(A) + H_{MM}(B) - H_{MM}(A, B)`.

    Bootstrap: with ``resampling="indices"`` the resample indices are
    ``rng.integers(0, n, size=(B, n))`` and all B tables come from one ``bincount`` of
    ``resample * n_cells + cell``; with "tables" the B count tables are
    ``rng.multinomial(n, p_hat, size=B)``. Either way the label space is that of the full
    sample (cells absent from a resample count 0), and the statistic (corrected when
    Miller-Madow is asked) is evaluated on the batch of B tables at once. Percentile
    interval: the alpha/2 and 1 - alpha/2 quantiles of the B values. It inherits the
    plug-in bias; for small samples or many cells prefer the corrected estimate, "basic"
    or "bca". BCa takes its acceleration from the jackknife, one leave-one-out table per
    occupied cell weighted by the cell's count (equal to the per-sample jackknife).

    Permutation test: the target column is shuffled relative to the (jointly kept)
    sources ``n_permutations`` times (for "conditional_mutual_information", only within
    the cells of ``given``, so that the null is conditional independence); with k the
    number of shuffled plug-in values at least the observed one,
    :math:`p = (k + 1) / (n_{perm} + 1)`, which is exact (never anti-conservative) under
    exchangeability.

    References
    ----------
    G. A. Miller, "Note on the bias of information estimates" (1955). B. Efron and
    R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall (1993), ch. 13-14.
    B. Phipson and G. K. Smyth, "Permutation p-values should never be zero", Stat. Appl.
    Genet. Mol. Biol. 9 (2010).

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.estimators import estimate
    >>> rng = np.random.default_rng(0)
    >>> x1, x2 = rng.integers(0, 2, size=(2, 400))
    >>> y = x1 ^ x2
    >>> est = estimate("s_max", x1, x2, y, n_bootstrap=200, n_permutations=99, seed=1)
    >>> round(est.value, 1), est.p_value
    (1.0, 0.01)
    >>> est.interval[0] <= est.value <= est.interval[1]
    True
    """
    func = "estimate"
    n_resamples = _check_count(n_bootstrap, "n_bootstrap", func, minimum=1)
    n_perm = _check_count(n_permutations, "n_permutations", func, minimum=0)
    return _run(
        func,
        measure,
        columns,
        base=base,
        correction=correction,
        n_resamples=n_resamples,
        level=level,
        method=method,
        n_permutations=n_perm,
        alternative=alternative,
        seed=seed,
        kwargs=measure_kwargs,
        resampling=resampling,
    )


def bootstrap(
    measure: str | Callable[..., Any],
    *columns: Sequence[Any],
    n_resamples: int = 1000,
    level: float = 0.95,
    method: str = "percentile",
    correction: str | None = None,
    base: float = 2,
    seed: int | np.random.Generator | np.random.SeedSequence | None = None,
    resampling: str = "auto",
    **measure_kwargs: Any,
) -> Estimate:
    """Bootstrap confidence interval of a measure from sample columns.

    The same as :func:`estimate` without the permutation test; with the same integer
    ``seed`` (and ``n_resamples`` equal to its ``n_bootstrap``) the two give the same
    interval.

    Parameters
    ----------
    measure, *columns, level, method, correction, base, seed, resampling, **measure_kwargs
        As in :func:`estimate`.
    n_resamples : int, keyword-only
        Bootstrap resamples (>= 1); :func:`estimate` calls it ``n_bootstrap``.

    Returns
    -------
    Estimate
        With ``interval``, ``standard_error`` and ``bootstrap_values`` set.

    Raises
    ------
    InvalidParameterError
        ``n_resamples < 1`` and the other bad arguments :func:`estimate` rejects.

    Examples
    --------
    >>> from synergy.estimators import bootstrap
    >>> x = [0, 1, 2, 3] * 50
    >>> est = bootstrap("entropy", x, n_resamples=300, seed=0)
    >>> est.value, est.interval[1] <= 2.0
    (2.0, True)
    """
    func = "bootstrap"
    return _run(
        func,
        measure,
        columns,
        base=base,
        correction=correction,
        n_resamples=_check_count(n_resamples, "n_resamples", func, minimum=1),
        level=level,
        method=method,
        n_permutations=0,
        alternative="greater",
        seed=seed,
        kwargs=measure_kwargs,
        resampling=resampling,
    )


def permutation_test(
    measure: str | Callable[..., Any],
    *columns: Sequence[Any],
    n_permutations: int = 999,
    alternative: str = "greater",
    base: float = 2,
    seed: int | np.random.Generator | np.random.SeedSequence | None = None,
    resampling: str = "auto",
    **measure_kwargs: Any,
) -> Estimate:
    r"""Permutation test of a measure against shuffling the target (last) column.

    Parameters
    ----------
    measure, *columns, base, seed, resampling, **measure_kwargs
        As in :func:`estimate`; at least 2 columns.
    n_permutations : int, keyword-only
        Shuffles of the target column (>= 1).
    alternative : {"greater", "less"}, keyword-only
        "greater": the p-value counts shuffles whose plug-in value is at least the
        observed one (MI, synergy); "less": at most.

    Returns
    -------
    Estimate
        ``value`` and ``plugin`` (the observed plug-in statistic), ``p_value`` and
        ``null_values``; no interval.

    Notes
    -----
    :math:`p = (k + 1) / (n_{perm} + 1)` with k the shuffles as extreme as the data
    (Phipson & Smyth 2010). Shuffling the target keeps the joint law of the sources and
    the target's marginal, so the null is "Y independent of (X_1, ..., X_k)". For
    "conditional_mutual_information" the target is shuffled only within the cells of
    ``given`` (the null is I(A; Y | C) = 0, with the (A, C) and (C, Y) margins kept).
    The null is independence, not "no synergy": a small p-value for a synergy measure
    says its value is larger than independent data would give, and plug-in synergy
    grows with any dependence, so read the size from the bootstrap interval.

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.estimators import permutation_test
    >>> rng = np.random.default_rng(0)
    >>> x1, x2, noise = rng.integers(0, 2, size=(3, 300))
    >>> permutation_test("wms", x1, x2, x1 ^ x2, n_permutations=99, seed=0).p_value
    0.01
    >>> permutation_test("wms", x1, x2, noise, n_permutations=99, seed=0).p_value > 0.05
    True
    """
    func = "permutation_test"
    return _run(
        func,
        measure,
        columns,
        base=base,
        correction=None,
        n_resamples=0,
        level=0.95,
        method="percentile",
        n_permutations=_check_count(n_permutations, "n_permutations", func, minimum=1),
        alternative=alternative,
        seed=seed,
        kwargs=measure_kwargs,
        resampling=resampling,
    )


def miller_madow_entropy(*columns: Sequence[Any], base: float = 2) -> float:
    r"""Miller-Madow estimate of the joint entropy of sample columns.

    Parameters
    ----------
    *columns : sequences of hashable labels, one 2-D array, or one DataFrame
        One column per variable, each of length N (or one array of shape (N, n_variables)
        or one DataFrame); the entropy is that of their joint.
    base : float, keyword-only
        Logarithm base (2: bits).

    Returns
    -------
    float
        :math:`\hat H_{MM}` in the unit of ``base``.

    Raises
    ------
    InvalidParameterError
        No columns, empty columns or columns of unequal length.

    Notes
    -----
    :math:`\hat H_{MM} = \hat H_{plug-in} + (m - 1) / (2 N)` nats, m the number of
    distinct joint outcomes seen. It removes the first-order term of the plug-in bias
    :math:`-(m - 1) / (2 N) + O(N^{-2})`.

    References
    ----------
    G. A. Miller, "Note on the bias of information estimates", in Information Theory in
    Psychology (1955).

    Examples
    --------
    >>> from synergy.estimators import miller_madow_entropy
    >>> round(miller_madow_entropy([0, 0, 1, 1]), 6)  # 1 bit + 1 / (8 ln 2)
    1.180337
    """
    func = "miller_madow_entropy"
    samples = _encode_columns(columns, func)
    m = _resolve_measure(
        "entropy", len(samples.shape), func=func, base=base, correction="miller-madow", kwargs={}
    )
    return float(m.statistic(samples.counts()[None], samples.n, corrected=True)[0])


def miller_madow_mutual_information(*columns: Sequence[Any], base: float = 2) -> float:
    r"""Miller-Madow estimate of I(X_1, ..., X_k; Y) from sample columns, Y the last.

    Parameters
    ----------
    *columns : sequences of hashable labels, one 2-D array, or one DataFrame
        At least two columns, each of length N: the sources (taken jointly) first, the
        target last (or one array of shape (N, n_variables) or one DataFrame).
    base : float, keyword-only
        Logarithm base (2: bits).

    Returns
    -------
    float
        :math:`\hat I_{MM}` in the unit of ``base``; can be negative for independent
        variables (the correction is not clipped).

    Raises
    ------
    InvalidParameterError
        Fewer than two columns, empty columns or columns of unequal length.

    Notes
    -----
    :math:`\hat I_{MM} = \hat H_{MM}(X) + \hat H_{MM}(Y) - \hat H_{MM}(X, Y)
    = \hat I + (m_X + m_Y - m_{XY} - 1) / (2 N)` nats.

    Examples
    --------
    >>> from synergy.estimators import miller_madow_mutual_information
    >>> round(miller_madow_mutual_information([0, 1, 0, 1], [0, 1, 0, 1]), 6)
    1.180337
    """
    func = "miller_madow_mutual_information"
    samples = _encode_columns(columns, func)
    m = _resolve_measure(
        "mutual_information",
        len(samples.shape),
        func=func,
        base=base,
        correction="miller-madow",
        kwargs={},
    )
    return float(m.statistic(samples.counts()[None], samples.n, corrected=True)[0])


# --------------------------------------------------------------------------- decompositions


@dataclass(frozen=True)
class DecompositionEstimate:
    """Every atom of a partial information decomposition, estimated from samples.

    Attributes
    ----------
    atoms : Mapping[Antichain, Estimate]
        One :class:`Estimate` per atom, keyed by antichain as in
        :attr:`synergy.pid.PIDResult.atoms` (bottom-up lattice order). Read-only.
    synergy, redundancy : Estimate
        The top and bottom atoms.
    unique : tuple of Estimate
        The atom {i} of each source.
    mutual_information : Estimate
        I(X; Y), which the atoms sum to in every resample.
    measure : str
        The registered name of the decomposition ("imin", "imax", "broja", ...).
    """

    atoms: Mapping[Antichain, Estimate]
    synergy: Estimate
    redundancy: Estimate
    unique: tuple[Estimate, ...]
    mutual_information: Estimate
    measure: str

    def __repr__(self) -> str:
        first = self.mutual_information
        head = f"DecompositionEstimate(measure={self.measure!r}, n={first.n}, seed={first.seed})"
        rows = [(format_antichain(node), est) for node, est in self.atoms.items()]
        rows.append(("I(X;Y)", first))
        width = max(len(name) for name, _ in rows)
        lines = [head]
        for name, est in rows:
            line = f"  {name:<{width}}  {est.value: .6f}"
            if est.interval is not None:
                line += f"  [{est.interval[0]: .6f}, {est.interval[1]: .6f}]"
            if est.p_value is not None:
                line += f"  p={est.p_value:.4g}"
            lines.append(line)
        return "\n".join(lines)


@dataclass(frozen=True)
class _Decomposition:
    """The atoms and I(X; Y) of :func:`synergy.decompose` as one statistic vector."""

    measure: str
    sources: Any
    base: float
    solver: str | None

    def vector(self, table: np.ndarray) -> tuple[np.ndarray, PIDResult]:
        result = decompose(table, self.measure, self.sources, base=self.base, solver=self.solver)
        return np.array([*result.atoms.values(), result.mutual_information]), result

    def statistic(self, counts: np.ndarray, n_total: int, *, corrected: bool) -> np.ndarray:
        # One batched decompose over the stack: the registry hands the whole stack to the
        # measure (BROJA solves it in one batched union-information call).
        result = decompose(
            counts / n_total,
            self.measure,
            self.sources,
            base=self.base,
            solver=self.solver,
            batch_ndim=1,
        )
        return np.stack([*result.atoms.values(), result.mutual_information], axis=-1)


def estimate_decomposition(
    *columns: Sequence[Any],
    measure: str = "imin",
    sources: Any = None,
    solver: str | None = None,
    base: float = 2,
    correction: str | None = None,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    method: str = "percentile",
    n_permutations: int = 0,
    alternative: str = "greater",
    seed: int | np.random.Generator | np.random.SeedSequence | None = None,
    resampling: str = "auto",
) -> DecompositionEstimate:
    r"""Estimate every atom of a partial information decomposition from sample columns.

    One :func:`synergy.decompose` per resample gives all the atoms at once, so their
    intervals come from the same resamples (and, for BROJA, from one solve per resample).

    Parameters
    ----------
    *columns : sequences of hashable labels, one 2-D array, or one DataFrame
        Source columns first, the target last, each of length n_samples; or one array of
        shape (n_samples, n_variables), or one pandas DataFrame, column by column.
    measure : str, keyword-only
        A registered PID measure, as in :func:`synergy.decompose` (see
        :func:`synergy.pid.measure_names`; measures added with
        :func:`synergy.pid.register_measure` work too). Default "imin".
    sources : sequence of int or of sequences of int, optional, keyword-only
        Source groups as column indices (default: each column but the last on its own).
    solver : str, optional, keyword-only
        For "broja"/"vk", passed to :func:`synergy.union_information`.
    base, n_bootstrap, level, method, n_permutations, alternative, seed, resampling
        As in :func:`estimate`.
    correction : {None, "bootstrap"}, keyword-only
        None: plug-in atoms; "bootstrap": each atom minus its bootstrap bias estimate.

    Returns
    -------
    DecompositionEstimate
        One :class:`Estimate` per atom plus one for I(X; Y).

    Raises
    ------
    InvalidParameterError, InvalidTypeError
        As in :func:`estimate` and :func:`synergy.decompose`; also for
        ``correction="miller-madow"``, which does not apply to the atoms.

    Notes
    -----
    The bootstrap, the intervals and the permutation test are those of :func:`estimate`,
    applied to each atom; the permutation null (target shuffled) is "Y independent of
    the sources", under which every atom is 0 in the population.

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.estimators.discrete import estimate_decomposition
    >>> rng = np.random.default_rng(0)
    >>> x1, x2 = rng.integers(0, 2, size=(2, 300))
    >>> pid = estimate_decomposition(x1, x2, x1 ^ x2, n_bootstrap=100, seed=0)
    >>> round(pid.synergy.value, 1), round(pid.redundancy.value, 1)
    (1.0, 0.0)
    >>> pid.synergy.interval[0] > 0.9
    True
    """
    func = "estimate_decomposition"
    get_measure(measure, func=func, param="measure")
    n_resamples = _check_count(n_bootstrap, "n_bootstrap", func, minimum=1)
    n_perm = _check_count(n_permutations, "n_permutations", func, minimum=0)
    if correction not in (None, "bootstrap"):
        raise invalid(
            "correction",
            func,
            "None or 'bootstrap' (Miller-Madow does not apply to PID atoms)",
            describe(correction),
            kind=InvalidParameterError if isinstance(correction, str) else InvalidTypeError,
        )
    check_base(base, func)
    samples = _encode_columns(columns, func)
    if len(samples.shape) < 3:
        raise invalid(
            "columns",
            func,
            "at least 3 sample columns (two or more sources, the target last)",
            f"{len(samples.shape)} columns",
        )
    opts = _check_options(
        func,
        samples,
        n_resamples=n_resamples,
        level=level,
        method=method,
        n_permutations=n_perm,
        alternative=alternative,
        correction=correction,
        resampling=resampling,
    )
    boot_rng, perm_rng, recorded = _streams(seed, func)
    stat = _Decomposition(measure=measure, sources=sources, base=float(base), solver=solver)
    plugin, result = stat.vector(samples.counts() / samples.n)
    nodes = list(result.atoms)
    names = [f"atom {format_antichain(node)}" for node in nodes] + ["mutual_information"]
    estimates = _resample(
        stat,
        samples,
        plugin,
        plugin,
        opts,
        boot_rng,
        perm_rng,
        seed=recorded,
        names=names,
        base=float(base),
    )
    atoms = dict(zip(nodes, estimates[:-1], strict=True))
    n_sources = len(result.unique)
    return DecompositionEstimate(
        atoms=MappingProxyType(atoms),
        synergy=atoms[nodes[-1]],
        redundancy=atoms[nodes[0]],
        unique=tuple(atoms[((i,),)] for i in range(n_sources)),
        mutual_information=estimates[-1],
        measure=result.measure,
    )
