"""From samples to measures: plug-in and Miller-Madow values, bootstrap intervals, permutations.

The public face of the sample estimators. Each concern has its module beside this one: the
measure table (_measures), Miller-Madow terms (_miller_madow), samples as count tables
(_samples), the bootstrap (_bootstrap), permutations (_permutation) and the plan of an
estimate: its options, checked once, and its random streams (_plan).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from synergy._validate import (
    InvalidParameterError,
    InvalidTypeError,
    describe,
    invalid,
    resolve_axes,
)
from synergy.estimators._bootstrap import _bootstrap_values, _interval, _jackknife
from synergy.estimators._measures import MEASURE_NAMES, _resolve_measure, _Statistic
from synergy.estimators._permutation import _null_values, _p_value
from synergy.estimators._plan import _check_count, _Plan, _plan
from synergy.estimators._samples import _encode_columns, _Samples
from synergy.pid import decompose
from synergy.pid.lattice import Antichain
from synergy.pid.registry import get_measure
from synergy.pid.result import PIDResult, format_antichain

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


def _resample(
    stat: _Statistic,
    samples: _Samples,
    plugin: np.ndarray,
    theta: np.ndarray,
    plan: _Plan,
    *,
    names: Sequence[str],
) -> list[Estimate]:
    """Bootstrap and permutation results for k statistics at once, one Estimate each.

    ``plugin`` and ``theta`` (corrected) have shape (k,); ``stat`` returns (B,) or (B, k).
    """
    k = plugin.size
    boot = jack = null = None
    boot_rng, perm_rng = plan.generators()
    if plan.n_resamples:
        boot = _bootstrap_values(
            stat, samples, plan.n_resamples, boot_rng, plan.resampling or "indices"
        ).reshape(-1, k)
        if plan.method == "bca":
            values, weights = _jackknife(stat, samples)
            jack = (values.reshape(-1, k), weights)
    if plan.n_permutations:
        null = _null_values(
            stat,
            samples,
            plan.n_permutations,
            perm_rng,
            plan.resampling or "indices",
            getattr(stat, "strata", ()),
        ).reshape(-1, k)
    out = []
    for j in range(k):
        interval = standard_error = p_value = None
        value = float(theta[j])
        boot_j = None if boot is None else np.ascontiguousarray(boot[:, j])
        null_j = None if null is None else np.ascontiguousarray(null[:, j])
        if boot_j is not None:
            assert plan.method is not None
            assert plan.level is not None
            jack_j = None if jack is None else (jack[0][:, j], jack[1])
            interval = _interval(plan.method, value, boot_j, plan.level, jack_j)
            if boot_j.size > 1:
                standard_error = float(np.std(boot_j, ddof=1))
            if plan.correction == "bootstrap":
                value = float(2.0 * theta[j] - boot_j.mean())
        if null_j is not None:
            assert plan.alternative is not None
            p_value = _p_value(float(plugin[j]), null_j, plan.alternative)
        out.append(
            Estimate(
                value=value,
                interval=interval,
                level=plan.level,
                method=plan.method,
                correction=plan.correction,
                plugin=float(plugin[j]),
                standard_error=standard_error,
                p_value=p_value,
                alternative=plan.alternative,
                n=samples.n,
                n_resamples=plan.n_resamples,
                n_permutations=plan.n_permutations,
                seed=plan.seed,
                measure=names[j],
                base=plan.base,
                resampling=plan.resampling,
                bootstrap_values=boot_j,
                null_values=null_j,
            )
        )
    return out


def _run(plan: _Plan, measure: Any, columns: Sequence[Any], kwargs: dict[str, Any]) -> Estimate:
    samples = _encode_columns(columns, plan.func)
    m = _resolve_measure(measure, len(samples.shape), plan, kwargs)
    plan = plan.for_samples(samples)
    if plan.n_permutations and m.strata:
        target = len(samples.shape) - 1
        used = resolve_axes(
            m.kwargs.get("a"), target + 1, param="a", func=plan.func
        ) + resolve_axes(m.kwargs.get("b"), target + 1, param="b", func=plan.func)
        if target in m.strata or target not in used:
            raise invalid(
                "columns",
                plan.func,
                "the shuffled (last) column in `a` or `b` for a permutation test of "
                "conditional_mutual_information",
                f"column {target} in {'`given`' if target in m.strata else 'neither'}",
            )
    counts = samples.counts()
    # The one validated call: it surfaces the measure's own errors (bad sources, axes,
    # options) under the measure's name; resamples then skip validation.
    plugin = m.scalar(m.call(counts / samples.n, validate=True))
    theta = plugin
    if plan.correction == "miller-madow":
        theta = plugin + float(m.miller_madow(counts[None], samples.n)[0])
    (result,) = _resample(m, samples, np.array([plugin]), np.array([theta]), plan, names=[m.name])
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
    plan = _plan(
        func,
        base=base,
        correction=correction,
        n_resamples=_check_count(n_bootstrap, "n_bootstrap", func, minimum=1),
        level=level,
        method=method,
        n_permutations=_check_count(n_permutations, "n_permutations", func, minimum=0),
        alternative=alternative,
        seed=seed,
        resampling=resampling,
    )
    return _run(plan, measure, columns, measure_kwargs)


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
    plan = _plan(
        func,
        base=base,
        correction=correction,
        n_resamples=_check_count(n_resamples, "n_resamples", func, minimum=1),
        level=level,
        method=method,
        seed=seed,
        resampling=resampling,
    )
    return _run(plan, measure, columns, measure_kwargs)


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
    plan = _plan(
        func,
        base=base,
        correction=None,
        n_permutations=_check_count(n_permutations, "n_permutations", func, minimum=1),
        alternative=alternative,
        seed=seed,
        resampling=resampling,
    )
    return _run(plan, measure, columns, measure_kwargs)


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
    plan = _plan("miller_madow_entropy", base=base, correction="miller-madow")
    samples = _encode_columns(columns, plan.func)
    m = _resolve_measure("entropy", len(samples.shape), plan, {})
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
    plan = _plan("miller_madow_mutual_information", base=base, correction="miller-madow")
    samples = _encode_columns(columns, plan.func)
    m = _resolve_measure("mutual_information", len(samples.shape), plan, {})
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
    plan = _plan(
        func,
        base=base,
        correction=correction,
        n_resamples=n_resamples,
        level=level,
        method=method,
        n_permutations=n_perm,
        alternative=alternative,
        seed=seed,
        resampling=resampling,
    )
    samples = _encode_columns(columns, func)
    if len(samples.shape) < 3:
        raise invalid(
            "columns",
            func,
            "at least 3 sample columns (two or more sources, the target last)",
            f"{len(samples.shape)} columns",
        )
    plan = plan.for_samples(samples)
    stat = _Decomposition(measure=measure, sources=sources, base=plan.base, solver=solver)
    plugin, result = stat.vector(samples.counts() / samples.n)
    nodes = list(result.atoms)
    names = [f"atom {format_antichain(node)}" for node in nodes] + ["mutual_information"]
    estimates = _resample(stat, samples, plugin, plugin, plan, names=names)
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
