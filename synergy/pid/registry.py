"""The PID measure registry: one name -> a redundancy function (or its own decomposition).

A new measure is one module that calls :func:`register_measure`; decomposing a merged table
with any registered measure is :func:`lattice_decomposition`.
"""

from __future__ import annotations

import importlib
import math
import numbers
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from synergy._validate import (
    InvalidDistributionError,
    InvalidTypeError,
    as_table,
    describe,
    invalid,
    resolve_target,
    resolve_target_sources,
)
from synergy.pid._plumbing import target_last
from synergy.pid.lattice import MAX_SOURCES, Antichain, RedundancyLattice, redundancy_lattice

__all__ = [
    "MEASURES",
    "DecompositionAtoms",
    "LatticeDecomposition",
    "Measure",
    "get_measure",
    "lattice_decomposition",
    "measure_names",
    "merge_sources",
    "register_alias",
    "register_decomposition",
    "register_measure",
    "unregister_measure",
]

#: redundancy(p, alpha) -> I_cap(alpha) in bits; p one merged table (sources 0..k-1, target last).
Redundancy = Callable[[np.ndarray, Antichain], float]
#: batched(p, alpha) -> ndarray of shape (B,), for p of shape (B, n_1, ..., n_k, n_y).
BatchedRedundancy = Callable[[np.ndarray, Antichain], np.ndarray]
#: every_node(p, lattice) -> ndarray of shape (B, N): I_cap of every node at once, in bits.
AllRedundancies = Callable[[np.ndarray, RedundancyLattice], np.ndarray]
#: decomposition(p, **options) -> atoms in bits, shape (B, N) in ``redundancy_lattice(k).nodes``
#: order (or a DecompositionAtoms that also carries solver diagnostics), for p of shape
#: (B, n_1, ..., n_k, n_y).
Decomposition = Callable[..., "np.ndarray | DecompositionAtoms"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*")
_REGISTRY: dict[str, Measure] = {}
_LOCK = threading.Lock()
_BUILTINS_LOADED = False


@dataclass(frozen=True)
class Measure:
    """A registered PID measure.

    Attributes
    ----------
    name : str
        The name users pass as ``measure``.
    max_sources : int
        Largest number of sources the measure decomposes (2 to 4).
    redundancy : callable or None
        ``redundancy(p, alpha) -> float``: I_cap(alpha) in bits for one merged table (one
        axis per source, target last) and an antichain of source indices. None for a
        measure that supplies its own decomposition.
    batched : callable or None
        ``batched(p, alpha) -> ndarray of shape (B,)`` for a stack of tables of shape
        (B, n_1, ..., n_k, n_y). None: batches loop over ``redundancy``.
    decomposition : callable or None
        ``decomposition(p, **options) -> ndarray of shape (B, N)`` (or a
        :class:`DecompositionAtoms`): every atom in bits, in the order of
        ``redundancy_lattice(k).nodes``, for a stack of tables (B, n_1, ..., n_k, n_y). Set
        for measures whose lattice is not filled by a redundancy function (BROJA, dep).
    every_node : callable or None
        ``every_node(p, lattice) -> ndarray of shape (B, N)``: I_cap of every node at once,
        for measures that share work across nodes (I_min). None: one call per node.
    options : tuple of str
        Keyword options the decomposition accepts (``("solver",)`` for BROJA).
    """

    name: str
    max_sources: int
    redundancy: Redundancy | None = None
    batched: BatchedRedundancy | None = None
    decomposition: Decomposition | None = None
    every_node: AllRedundancies | None = None
    options: tuple[str, ...] = ()

    def check_sources(self, n_groups: int, func: str) -> None:
        """Refuse more source groups than the measure decomposes, naming ``sources``.

        Parameters
        ----------
        n_groups : int
            The number of source groups of the call.
        func : str
            The public function to name in the error.

        Raises
        ------
        InvalidParameterError
            If ``n_groups`` exceeds ``max_sources``.
        """
        if n_groups > self.max_sources:
            expected = (
                f"exactly 2 source groups for measure {self.name!r}"
                if self.max_sources == 2
                else f"2 to {self.max_sources} source groups for measure {self.name!r}"
            )
            raise invalid("sources", func, expected, f"{n_groups} groups")


@dataclass(frozen=True)
class DecompositionAtoms:
    """The atoms a registered decomposition computed, with its solver's diagnostics.

    A decomposition may return a bare ndarray of atoms; one that runs a solver returns this
    so that ``status``, ``gap`` and ``iterations`` reach the user's result.

    Attributes
    ----------
    values : ndarray of shape (B, N)
        The atoms in bits, in the order of ``redundancy_lattice(k).nodes``.
    status : ndarray of shape (B,) or None
        The solver's status word for each table.
    gap : ndarray of shape (B,) or None
        A bound on the solver's error for each table, in bits.
    iterations : ndarray of shape (B,) or None
        The solver's iteration count for each table.
    """

    values: np.ndarray
    status: np.ndarray | None = None
    gap: np.ndarray | None = None
    iterations: np.ndarray | None = None


@dataclass(frozen=True)
class LatticeDecomposition:
    """Every atom and redundancy of one table (or a batch), in bits.

    Attributes
    ----------
    measure : str
        The registered name that produced the values.
    lattice : RedundancyLattice
        The lattice of the table's sources; its ``nodes`` order the last axis of the arrays.
    atom_values : ndarray of shape (*batch, N)
        pi(alpha) in bits for every node.
    redundancy_values : ndarray of shape (*batch, N)
        I_cap(alpha) in bits: the sum of the atoms at or below each node.
    status, gap, iterations : ndarray of shape batch, or None
        The solver's diagnostics (gap in bits) for a measure that runs one; None otherwise.
    """

    measure: str
    lattice: RedundancyLattice
    atom_values: np.ndarray
    redundancy_values: np.ndarray
    status: np.ndarray | None = None
    gap: np.ndarray | None = None
    iterations: np.ndarray | None = None

    @property
    def atoms(self) -> Mapping[Antichain, Any]:
        """Atoms keyed by antichain: floats for one table, arrays of the batch shape else."""
        return _keyed(self.lattice, self.atom_values)

    @property
    def redundancies(self) -> Mapping[Antichain, Any]:
        """I_cap keyed by antichain: floats for one table, arrays of the batch shape else."""
        return _keyed(self.lattice, self.redundancy_values)


def _keyed(lattice: RedundancyLattice, values: np.ndarray) -> Mapping[Antichain, Any]:
    if values.ndim == 1:
        return MappingProxyType(
            {node: float(v) for node, v in zip(lattice.nodes, values, strict=True)}
        )
    return MappingProxyType({node: values[..., i] for i, node in enumerate(lattice.nodes)})


def _check_name(name: object, func: str) -> str:
    if not isinstance(name, str):
        raise invalid(
            "name", func, "a string such as 'mmi'", describe(name), kind=InvalidTypeError
        )
    if not _NAME.fullmatch(name):
        raise invalid(
            "name",
            func,
            "a letter followed by letters, digits, '_' or '-'",
            repr(name),
        )
    return name


def _check_callable(value: object, param: str, func: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not callable(value):
        expected = "a callable or None" if optional else "a callable"
        raise invalid(param, func, expected, describe(value), kind=InvalidTypeError)


def _check_max_sources(max_sources: object, func: str) -> int:
    if isinstance(max_sources, bool) or not isinstance(max_sources, numbers.Integral):
        raise invalid(
            "max_sources",
            func,
            f"an integer from 2 to {MAX_SOURCES}",
            describe(max_sources),
            kind=InvalidTypeError,
        )
    most = int(max_sources)
    if not 2 <= most <= MAX_SOURCES:
        raise invalid("max_sources", func, f"an integer from 2 to {MAX_SOURCES}", repr(most))
    return most


def _store(measure: Measure, *, replace: bool, func: str) -> Measure:
    # Built-ins first, so that a user's measure never silently shadows one of them.
    _load_builtins()
    with _LOCK:
        if measure.name in _REGISTRY and not replace:
            raise invalid(
                "name",
                func,
                "a name not yet registered (or pass replace=True)",
                f"{measure.name!r}, already registered",
            )
        _REGISTRY[measure.name] = measure
    return measure


def register_measure(
    name: str,
    redundancy: Redundancy,
    *,
    max_sources: int = MAX_SOURCES,
    batched: BatchedRedundancy | None = None,
    every_node: AllRedundancies | None = None,
    replace: bool = False,
) -> Measure:
    """Register a PID measure by its redundancy function I_cap(alpha).

    Parameters
    ----------
    name : str
        The name users pass as ``measure`` (a letter, then letters, digits, ``_``, ``-``).
    redundancy : callable
        ``redundancy(p, alpha) -> float``. ``p`` is one table with the sources merged so that
        source i is axis i (0 <= i < k) and the target is the last axis; ``alpha`` is an
        antichain, a tuple of tuples of source indices such as ``((0,), (1, 2))``. Returns
        I_cap(alpha) in bits.
    max_sources : int, keyword-only
        Largest number of sources the measure handles, 2 to 4.
    batched : callable, optional, keyword-only
        ``batched(p, alpha) -> ndarray of shape (B,)`` for ``p`` of shape
        (B, n_1, ..., n_k, n_y). Without it, batches call ``redundancy`` table by table.
    every_node : callable, optional, keyword-only
        ``every_node(p, lattice) -> ndarray of shape (B, N)``: I_cap of every node of
        ``lattice`` (a :class:`~synergy.pid.RedundancyLattice`) at once, for a measure that
        shares work across nodes. When given, decompositions use it instead of ``batched``.
    replace : bool, keyword-only
        Allow replacing a measure already registered under ``name``.

    Returns
    -------
    Measure
        The frozen record that was stored.

    Raises
    ------
    InvalidParameterError
        If ``name`` is malformed or taken (and ``replace`` is false), or ``max_sources`` is
        outside 2 to 4.
    InvalidTypeError
        If ``name`` is not a string, ``redundancy``, ``batched`` or ``every_node`` are not
        callable, or
        ``max_sources`` is not an integer.

    Notes
    -----
    The library evaluates I_cap on every node of the redundancy lattice of the table's k
    sources and inverts the lattice (Moebius inversion):
    pi(alpha) = I_cap(alpha) - sum_{beta < alpha} pi(beta) (Williams & Beer 2010).

    Examples
    --------
    >>> from synergy.pid.registry import register_measure, lattice_decomposition
    >>> from synergy.pid.registry import unregister_measure
    >>> from synergy.testing import XOR
    >>> _ = register_measure("zero", lambda p, alpha: 0.0, replace=True)
    >>> lattice_decomposition("zero", XOR).atoms[((0, 1),)]
    0.0
    >>> unregister_measure("zero")
    """
    func = "register_measure"
    name = _check_name(name, func)
    _check_callable(redundancy, "redundancy", func, optional=False)
    _check_callable(batched, "batched", func, optional=True)
    _check_callable(every_node, "every_node", func, optional=True)
    most = _check_max_sources(max_sources, func)
    record = Measure(
        name=name,
        max_sources=most,
        redundancy=redundancy,
        batched=batched,
        every_node=every_node,
    )
    return _store(record, replace=replace, func=func)


def register_decomposition(
    name: str,
    decomposition: Decomposition,
    *,
    max_sources: int = 2,
    options: Sequence[str] = (),
    replace: bool = False,
) -> Measure:
    """Register a PID measure that computes its atoms itself (not from a redundancy).

    Parameters
    ----------
    name : str
        The name users pass as ``measure``.
    decomposition : callable
        ``decomposition(p, **options) -> ndarray of shape (B, N)`` for ``p`` of shape
        (B, n_1, ..., n_k, n_y) (sources merged, target last): the atoms in bits, in the
        order of ``redundancy_lattice(k).nodes``. A decomposition that runs a solver may
        return a :class:`DecompositionAtoms` carrying its status, gap and iterations.
    max_sources : int, keyword-only
        Largest number of sources the measure handles, 2 to 4.
    options : sequence of str, keyword-only
        Names of the keyword options the decomposition accepts (such as ``"solver"``); the
        callers pass only these, and only when the user set them.
    replace : bool, keyword-only
        Allow replacing a measure already registered under ``name``.

    Returns
    -------
    Measure
        The frozen record that was stored.

    Raises
    ------
    InvalidParameterError
        If ``name`` is malformed or taken, or ``max_sources`` is outside 2 to 4.
    InvalidTypeError
        If ``name`` is not a string, ``decomposition`` is not callable, ``max_sources``
        is not an integer, or ``options`` is not a sequence of strings.

    Examples
    --------
    >>> import numpy as np
    >>> from synergy.testing import XOR
    >>> def all_synergy(stack):  # a toy rule: every bit of I(X; Y) is synergistic
    ...     atoms = np.zeros((stack.shape[0], 4))
    ...     atoms[:, 3] = 1.0  # I(X; Y) of XOR, 1 bit
    ...     return atoms
    >>> _ = register_decomposition("toy", all_synergy, replace=True)
    >>> lattice_decomposition("toy", XOR).redundancies[((0, 1),)]
    1.0
    >>> unregister_measure("toy")
    """
    func = "register_decomposition"
    name = _check_name(name, func)
    _check_callable(decomposition, "decomposition", func, optional=False)
    most = _check_max_sources(max_sources, func)
    if isinstance(options, str) or not all(isinstance(o, str) for o in options):
        raise invalid(
            "options",
            func,
            "a sequence of option names such as ('solver',)",
            describe(options),
            kind=InvalidTypeError,
        )
    record = Measure(
        name=name, max_sources=most, decomposition=decomposition, options=tuple(options)
    )
    return _store(record, replace=replace, func=func)


def register_alias(alias: str, name: str, *, replace: bool = False) -> Measure:
    """Make ``alias`` a second name of the registered measure ``name``.

    Parameters
    ----------
    alias : str
        The new name users may pass as ``measure``.
    name : str
        A registered name; results computed through the alias carry this name.
    replace : bool, keyword-only
        Allow replacing a measure already registered under ``alias``.

    Returns
    -------
    Measure
        The record of ``name``, now also stored under ``alias``.

    Raises
    ------
    InvalidParameterError
        If ``alias`` is malformed or taken, or ``name`` is not registered.
    InvalidTypeError
        If ``alias`` or ``name`` is not a string.

    Examples
    --------
    >>> record = register_alias("shortest", "mmi")
    >>> get_measure("shortest").name
    'mmi'
    >>> unregister_measure("shortest")
    """
    func = "register_alias"
    alias = _check_name(alias, func)
    record = get_measure(name, func=func, param="name")
    with _LOCK:
        if alias in _REGISTRY and not replace:
            raise invalid(
                "alias",
                func,
                "a name not yet registered (or pass replace=True)",
                f"{alias!r}, already registered",
            )
        _REGISTRY[alias] = record
    return record


def unregister_measure(name: str) -> None:
    """Remove a registered measure.

    Parameters
    ----------
    name : str
        A registered name.

    Raises
    ------
    InvalidParameterError
        If no measure has that name.

    Examples
    --------
    >>> _ = register_measure("scratch", lambda p, alpha: 0.0)
    >>> unregister_measure("scratch")
    >>> "scratch" in measure_names()
    False
    """
    _load_builtins()
    with _LOCK:
        if name not in _REGISTRY:
            raise invalid("name", "unregister_measure", f"one of {sorted(_REGISTRY)}", repr(name))
        del _REGISTRY[name]


def _load_builtins() -> None:
    # The built-in measures register on import of synergy.pid.measures. Importing it on
    # the first lookup rather than with synergy keeps `import synergy` light.
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        # Set first: the built-in modules call register_measure, which comes back here.
        _BUILTINS_LOADED = True
        try:
            importlib.import_module("synergy.pid.measures")
        except BaseException:
            _BUILTINS_LOADED = False
            raise


class _MeasureNames(Sequence[str]):
    """A read-only, live view of the registered names: measures registered later show up."""

    def _names(self) -> tuple[str, ...]:
        return measure_names()

    def __getitem__(self, index: Any) -> Any:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _MeasureNames):
            return True
        return isinstance(other, tuple) and self._names() == other

    def __hash__(self) -> int:
        return hash(self._names())

    def __add__(self, other: tuple[str, ...]) -> tuple[str, ...]:
        return self._names() + tuple(other)

    def __radd__(self, other: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(other) + self._names()

    def __repr__(self) -> str:
        return repr(self._names())


#: Every registered measure name, sorted: a read-only live view (a tuple-like sequence) of
#: :func:`measure_names`, so that measures registered later are included.
MEASURES: Sequence[str] = _MeasureNames()


def measure_names() -> tuple[str, ...]:
    """The registered measure names, sorted.

    Returns
    -------
    tuple of str
        Every name :func:`get_measure` accepts.

    Examples
    --------
    >>> {"ccs", "dep", "gk", "mmi", "pm", "sx"} <= set(measure_names())
    True
    """
    _load_builtins()
    with _LOCK:
        return tuple(sorted(_REGISTRY))


def get_measure(name: str, *, func: str = "get_measure", param: str = "name") -> Measure:
    """The registered measure called ``name``.

    Parameters
    ----------
    name : str
        A registered name (see :func:`measure_names`).
    func, param : str, keyword-only
        The public function and parameter to name in the error message (callers such as
        ``decompose`` pass their own).

    Returns
    -------
    Measure
        Its frozen record.

    Raises
    ------
    InvalidParameterError
        If no measure has that name.
    InvalidTypeError
        If ``name`` is not a string.

    Examples
    --------
    >>> record = get_measure("dep")
    >>> record.max_sources, record.decomposition is not None
    (2, True)
    """
    names = measure_names()
    if not isinstance(name, str):
        raise invalid(param, func, f"one of {list(names)}", describe(name), kind=InvalidTypeError)
    with _LOCK:
        record = _REGISTRY.get(name)
    if record is None:
        raise invalid(param, func, f"one of {list(names)}", repr(name))
    return record


def lattice_decomposition(
    measure: str | Measure,
    p: object,
    *,
    target: int = -1,
    batch_ndim: int = 0,
    validate: bool = True,
    options: Mapping[str, Any] | None = None,
) -> LatticeDecomposition:
    """Decompose merged table(s) with a registered measure: every atom and redundancy in bits.

    Parameters
    ----------
    measure : str or Measure
        A registered name, or a record from :func:`get_measure`.
    p : array_like of shape (*batch, n_1, ..., n_k, n_y)
        Joint probability table(s) with one axis per source (sources already merged) and
        the target last unless ``target`` says otherwise; 2 <= k <= the measure's
        ``max_sources``. The sources are the axes other than the target, in order.
    target : int, keyword-only
        The target's axis: a table axis (the batch axes do not count), negatives from the
        end. Default -1, the last axis.
    batch_ndim : int, keyword-only
        Number of leading batch axes.
    validate : bool, keyword-only
        Check that ``p`` holds probability tables.
    options : mapping, optional, keyword-only
        Keyword options for a registered decomposition (such as ``{"solver": "cvxpy"}``),
        among those it was registered with.

    Returns
    -------
    LatticeDecomposition
        The lattice, the atoms and the redundancies (arrays of shape (*batch, N), and
        mappings keyed by antichain), and the solver's diagnostics when the measure has
        one.

    Raises
    ------
    InvalidDistributionError
        If ``p`` is not a table of probabilities, or has fewer than 2 or more than
        ``max_sources`` source axes.
    InvalidParameterError
        If ``measure`` is not registered, ``options`` names an option the measure does
        not take, or ``target`` is out of range.
    InvalidTypeError
        If ``target`` is not an integer.

    Examples
    --------
    >>> from synergy.testing import AND
    >>> result = lattice_decomposition("mmi", AND)
    >>> round(result.atoms[((0,), (1,))], 6)  # I(X1; Y) = 0.311278 bits for AND
    0.311278
    """
    func = "lattice_decomposition"
    record = (
        measure
        if isinstance(measure, Measure)
        else get_measure(measure, func=func, param="measure")
    )
    table = as_table(p, func=func, batch_ndim=batch_ndim, validate=validate, min_table_ndim=3)
    axis = resolve_target(target, table.ndim - batch_ndim, func=func, batch_ndim=batch_ndim)
    table = target_last(table, batch_ndim, axis)
    n_sources = table.ndim - batch_ndim - 1
    if not 2 <= n_sources <= record.max_sources:
        raise invalid(
            "p",
            func,
            f"a table with 2 to {record.max_sources} source axes and the target last for "
            f"measure {record.name!r}",
            f"{n_sources} source axes (shape {table.shape}, batch_ndim={batch_ndim})",
            kind=InvalidDistributionError,
        )
    chosen = dict(options or {})
    extra = sorted(set(chosen) - set(record.options))
    if extra:
        raise invalid(
            "options",
            func,
            f"options among {list(record.options)} for measure {record.name!r}",
            repr(extra),
        )
    lattice = redundancy_lattice(n_sources)
    batch_shape = table.shape[:batch_ndim]
    stack = table.reshape(math.prod(batch_shape), *table.shape[batch_ndim:])
    diagnostics: dict[str, np.ndarray | None] = {}
    if record.decomposition is not None:
        n_tables = stack.shape[0]
        if n_tables == 0:
            # A batch of zero tables asks the measure about one uniform table and keeps
            # none of the answer: its arrays come out empty, with the diagnostics' dtypes a
            # real batch gets, and no measure has to handle a stack without a table.
            table_shape = stack.shape[1:]
            stack = np.full((1, *table_shape), 1.0 / math.prod(table_shape))
        answer = record.decomposition(stack, **chosen)
        if isinstance(answer, DecompositionAtoms):
            for key in ("status", "gap", "iterations"):
                value = getattr(answer, key)
                diagnostics[key] = (
                    None if value is None else np.asarray(value)[:n_tables].reshape(batch_shape)
                )
            answer = answer.values
        atoms = np.asarray(answer, dtype=np.float64)[:n_tables]
        redundancies = lattice.cumulate(atoms)
    else:
        redundancies = _redundancies(record, stack, lattice)
        atoms = lattice.atoms(redundancies)
    size = len(lattice.nodes)
    return LatticeDecomposition(
        measure=record.name,
        lattice=lattice,
        atom_values=atoms.reshape(*batch_shape, size),
        redundancy_values=redundancies.reshape(*batch_shape, size),
        **diagnostics,
    )


def merge_sources(
    table: np.ndarray,
    groups: tuple[tuple[int, ...], ...],
    *,
    target: int = -1,
    batch_ndim: int = 0,
) -> np.ndarray:
    """One axis per source group, target last: the table layout measures receive.

    Parameters
    ----------
    table : ndarray of shape (*batch, n_1, ..., n_m, n_y)
        Probability table(s), already validated; target last unless ``target`` says
        otherwise.
    groups : sequence of sequences of int
        Source groups as table axes (the axes of ``table``, as ``sources=`` counts them);
        the axes of a group become one variable, in C order. Axes in no group are summed
        out.
    target : int, keyword-only
        The target's axis: a table axis (the batch axes do not count), negatives from the
        end. Default -1, the last axis.
    batch_ndim : int, keyword-only
        Number of leading batch axes.

    Returns
    -------
    ndarray of shape (*batch, n_G1, ..., n_Gk, n_y)
        The merged table(s); a view of ``table`` when nothing moves.

    Raises
    ------
    InvalidParameterError, InvalidTypeError
        If ``groups`` are not disjoint groups of table axes without the target axis, or
        ``target`` is not a table axis.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.full((2, 3, 2, 2), 1 / 24)
    >>> merge_sources(p, ((0, 2), (1,))).shape
    (4, 3, 2)
    >>> merge_sources(p, ((0, 3), (1,)), target=2).shape  # the target is axis 2
    (4, 3, 2)
    """
    axis, groups = resolve_target_sources(
        groups,
        target,
        table.ndim - batch_ndim,
        func="merge_sources",
        batch_ndim=batch_ndim,
        param="groups",
    )
    table = target_last(table, batch_ndim, axis)
    last = table.ndim - 1
    used = {a for group in groups for a in group}
    dropped = tuple(batch_ndim + a for a in range(last - batch_ndim) if a not in used)
    summed = table.sum(axis=dropped, keepdims=True) if dropped else table
    # Summed-out axes keep length 1 and go last, where the reshape absorbs them.
    order = [
        *range(batch_ndim),
        *(batch_ndim + a for group in groups for a in group),
        last,
        *dropped,
    ]
    sizes = [math.prod(table.shape[batch_ndim + a] for a in group) for group in groups]
    return summed.transpose(order).reshape(*table.shape[:batch_ndim], *sizes, table.shape[-1])


def _redundancies(record: Measure, stack: np.ndarray, lattice: RedundancyLattice) -> np.ndarray:
    if stack.shape[0] == 0:
        # A batch of zero tables: no node has a value to compute, and no measure is called
        # on a stack whose reshapes need at least one table.
        return np.zeros((0, len(lattice.nodes)))
    if record.every_node is not None:
        values = np.asarray(record.every_node(stack, lattice), dtype=np.float64)
        return values.reshape(stack.shape[0], len(lattice.nodes))
    out = np.empty((stack.shape[0], len(lattice.nodes)))
    for j, node in enumerate(lattice.nodes):
        if record.batched is not None:
            out[:, j] = np.asarray(record.batched(stack, node), dtype=np.float64).reshape(-1)
        elif record.redundancy is not None:
            for b in range(stack.shape[0]):
                out[b, j] = float(record.redundancy(stack[b], node))
    return out
