"""The plan of an estimate: its options checked once, then passed to every step.

Bootstrap and permutations draw from two streams spawned from one seed.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from synergy._validate import (
    InvalidParameterError,
    InvalidTypeError,
    check_base,
    describe,
    invalid,
)
from synergy.estimators._samples import _Samples

_CORRECTIONS = (None, "miller-madow", "bootstrap")
_METHODS = ("percentile", "basic", "bca")
_ALTERNATIVES = ("greater", "less")
_RESAMPLINGS = ("auto", "indices", "tables")


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


def _streams(seed: Any, func: str) -> tuple[Any, Any, int | None]:
    """The seeds of the bootstrap's and the permutations' generators, and the seed to record.

    Spawning two streams from one SeedSequence makes ``estimate(seed=s)`` give the same
    interval as ``bootstrap(seed=s)`` and the same p-value as ``permutation_test(seed=s)``.
    A user's Generator serves both, the bootstrap first.
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
    return boot, perm, recorded


@dataclass(frozen=True, slots=True)
class _Plan:
    """How an estimate is made, apart from the measure: checked once, then read by every step.

    Built by :func:`_plan` from a public function's arguments; :meth:`for_samples` checks it
    against the encoded samples and settles ``resampling="auto"``.
    """

    func: str  # the public function, named in error messages
    base: float
    log_base: float  # ln(base)
    correction: str | None
    n_resamples: int
    level: float | None  # None without a bootstrap
    method: str | None
    n_permutations: int
    alternative: str | None  # None without a permutation test
    resampling: str | None  # "auto" until for_samples, None without resampling
    seed: int | None  # the seed to record in the results
    # The SeedSequences of the bootstrap and the permutations, or a user's Generator twice.
    streams: tuple[Any, Any] | None

    def for_samples(self, samples: _Samples) -> _Plan:
        """The plan for these samples: the checks that need the data, "auto" resolved."""
        if self.n_permutations and len(samples.shape) < 2:
            raise invalid(
                "columns",
                self.func,
                "at least 2 sample columns for a permutation test (the last one is shuffled)",
                f"{len(samples.shape)} column",
            )
        if self.method == "bca" and samples.n < 2:
            raise invalid("method", self.func, "'percentile' or 'basic' with one sample", "'bca'")
        if self.resampling != "auto":
            return self
        how = "tables" if samples.n > samples.n_cells else "indices"
        return replace(self, resampling=how)

    def generators(self) -> tuple[np.random.Generator, np.random.Generator]:
        """Fresh generators of the bootstrap and the permutation streams."""
        assert self.streams is not None
        boot, perm = self.streams
        return np.random.default_rng(boot), np.random.default_rng(perm)


def _plan(
    func: str,
    *,
    base: Any,
    correction: Any,
    n_resamples: int = 0,
    level: Any = None,
    method: Any = None,
    n_permutations: int = 0,
    alternative: Any = None,
    seed: Any = None,
    resampling: Any = "auto",
) -> _Plan:
    """Check the options of ``func`` (counts already checked by it) into a plan.

    Options that a call does not use are not checked: ``level`` and ``method`` without a
    bootstrap, ``alternative`` without permutations, ``resampling`` and ``seed`` without
    either.
    """
    log_base = check_base(base, func)
    if correction not in _CORRECTIONS:
        raise invalid(
            "correction",
            func,
            "None, 'miller-madow' or 'bootstrap'",
            describe(correction),
            kind=InvalidParameterError if isinstance(correction, str) else InvalidTypeError,
        )
    level_value = _check_level(level, func) if n_resamples else None
    method_value = _check_choice(method, "method", func, _METHODS) if n_resamples else None
    alt = (
        _check_choice(alternative, "alternative", func, _ALTERNATIVES) if n_permutations else None
    )
    resamples = n_resamples or n_permutations
    how = _check_choice(resampling, "resampling", func, _RESAMPLINGS) if resamples else None
    streams: tuple[Any, Any] | None = None
    recorded = None
    if resamples:
        boot, perm, recorded = _streams(seed, func)
        streams = (boot, perm)
    return _Plan(
        func=func,
        base=float(base),
        log_base=log_base,
        correction=correction,
        n_resamples=n_resamples,
        level=level_value,
        method=method_value,
        n_permutations=n_permutations,
        alternative=alt,
        resampling=how,
        seed=recorded,
        streams=streams,
    )
