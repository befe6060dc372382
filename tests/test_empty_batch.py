"""A batch of zero tables gets an empty answer of the batch shape from every batched function.

A stack of tables filtered down to nothing is still a batch: every public function that
takes ``batch_ndim`` answers it as it answers a batch of one table, with the batch axes of
length 0 (the same fields, the same dtypes, with or without ``validate``). A zero-length
TABLE axis is still refused with the library's error naming the table's parameter.

The functions are discovered by their signatures, so that one added later is covered: a
function whose call needs more than the table gets a recipe in ``_EXTRA_ARGS``, else the
test fails on its TypeError.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pytest

import synergy
from synergy import InvalidDistributionError, InvalidParameterError, InvalidTypeError
from synergy.pid import get_measure, measure_names

DOCUMENTED = (InvalidDistributionError, InvalidParameterError, InvalidTypeError)
NAMESPACES = ["synergy", "synergy.pid", "synergy.tables", "synergy.torch"]
BATCHES = [(0,), (3, 0)]
N_SOURCES = [2, 3]
# No function that takes batch_ndim is left out.
EXCLUDED: dict[str, str] = {}


def _batched_functions() -> list[tuple[str, str]]:
    found = []
    for module_name in NAMESPACES:
        if module_name == "synergy.torch" and importlib.util.find_spec("torch") is None:
            continue
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or not callable(obj):
                continue
            if "batch_ndim" in inspect.signature(obj).parameters:
                found.append((module_name, name))
    return found


FUNCTIONS = [f for f in _batched_functions() if f"{f[0]}.{f[1]}" not in EXCLUDED]


def _table_shape(n_sources: int) -> tuple[int, ...]:
    # Sources of sizes 2, 3 (, 2) and a binary target: unequal sizes catch swapped axes.
    return (*(2, 3, 2, 2)[:n_sources], 2)


def _extra_args(name: str, p: Any, n_sources: int, measure: str) -> tuple[tuple[Any, ...], dict]:
    """The positional arguments of a call beyond the table, and keywords it needs."""
    target = n_sources  # the last table axis
    recipes: dict[str, tuple[tuple[Any, ...], dict]] = {
        "conditional_entropy": ((p, 0, 1), {}),
        "conditional_mutual_information": ((p, 0, 1, target), {}),
        "specific_information": ((p, 0), {}),
        "kl_divergence": ((p, p), {}),
        "marginal": ((p, [1, 0]), {}),
        "decompose": ((p, measure), {}),
        "lattice_decomposition": ((measure, p), {}),
        "merge_sources": ((p, tuple((i,) for i in range(n_sources))), {}),
    }
    return recipes.get(name, ((p,), {}))


def _call(module_name: str, name: str, p: Any, n_sources: int, measure: str, validate: bool):
    fn = getattr(importlib.import_module(module_name), name)
    args, kwargs = _extra_args(name, p, n_sources, measure)
    if "validate" in inspect.signature(fn).parameters:
        kwargs["validate"] = validate
    batch_ndim = np.ndim(p) - n_sources - 1
    with warnings.catch_warnings():
        # A zero table never converges or fails to: only the uniform probe could warn.
        warnings.simplefilter("ignore", synergy.SynergyConvergenceWarning)
        return fn(*args, batch_ndim=batch_ndim, **kwargs)


def _zeros(module_name: str, shape: tuple[int, ...]) -> Any:
    if module_name == "synergy.torch":
        import torch

        return torch.zeros(shape, dtype=torch.float32)
    return np.zeros(shape)


def _uniform(module_name: str, shape: tuple[int, ...]) -> Any:
    table = np.full(shape, 1.0 / math.prod(shape[1:]))
    if module_name == "synergy.torch":
        import torch

        return torch.tensor(table, dtype=torch.float32)
    return table


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every array, tensor and plain value inside a result, with where it sits."""
    if (hasattr(value, "shape") and hasattr(value, "dtype")) or path.endswith("batch_shape"):
        yield path, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _leaves(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, Mapping):
        for key in value:
            yield from _leaves(value[key], f"{path}[{key!r}]")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def _cases() -> list[Any]:
    cases = []
    for module_name, name in FUNCTIONS:
        measures = [""]
        if name in ("decompose", "lattice_decomposition"):
            measures = list(measure_names())
        for measure in measures:
            for n_sources in N_SOURCES:
                if measure and n_sources > get_measure(measure).max_sources:
                    continue
                ident = f"{module_name}.{name}-{measure or 'table'}-{n_sources}src"
                cases.append(pytest.param(module_name, name, measure, n_sources, id=ident))
    return cases


def test_every_batched_function_is_discovered() -> None:
    # Names that must be found: the list; a namespace that lost batch_ndim on
    # one of them would silently shrink the coverage below.
    names = {name for _, name in FUNCTIONS}
    assert {"entropy", "mutual_information", "wms", "s_max", "i_min", "i_max", "s_vk"} <= names
    assert {"decompose", "union_information", "marginal", "lattice_decomposition"} <= names


@pytest.mark.parametrize(("module_name", "name", "measure", "n_sources"), _cases())
@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: "x".join(map(str, b)))
@pytest.mark.parametrize("validate", [True, False], ids=["validate", "novalidate"])
def test_an_empty_batch_is_answered_like_a_batch_of_one(
    module_name: str, name: str, measure: str, n_sources: int, batch: tuple, validate: bool
) -> None:
    table_shape = _table_shape(n_sources)
    one_table = _uniform(module_name, (1, *table_shape))
    try:
        one = _call(module_name, name, one_table, n_sources, measure, validate)
    except DOCUMENTED as exc:
        # A call refused for a real batch (a measure the torch side has no gradient for)
        # is refused the same way for an empty one.
        with pytest.raises(type(exc)):
            _call(
                module_name,
                name,
                _zeros(module_name, (*batch, *table_shape)),
                n_sources,
                measure,
                validate,
            )
        return
    empty = _call(
        module_name,
        name,
        _zeros(module_name, (*batch, *table_shape)),
        n_sources,
        measure,
        validate,
    )
    one_leaves, empty_leaves = dict(_leaves(one)), dict(_leaves(empty))
    assert one_leaves.keys() == empty_leaves.keys()
    arrays = 0
    for path, ref in one_leaves.items():
        got = empty_leaves[path]
        if hasattr(ref, "shape") and ref.ndim >= 1 and ref.shape[0] == 1:
            # The batch axis of length 1 becomes the empty batch's axes; the rest stays.
            assert tuple(got.shape) == (*batch, *tuple(ref.shape)[1:]), path
            assert got.dtype == ref.dtype, path
            arrays += 1
        elif path.endswith("batch_shape"):
            assert got == batch
        else:
            assert type(got) is type(ref), path
    assert arrays >= 1
    # The headline value: a float64 ndarray (torch: the input's dtype) of the batch shape.
    head = empty
    for field in ("synergy", "atom_values", "value"):
        if hasattr(head, field):
            head = getattr(head, field)
            break
    if module_name == "synergy.torch":
        import torch

        assert isinstance(head, torch.Tensor)
        assert head.dtype == torch.float32
    else:
        assert isinstance(head, np.ndarray)
        assert head.dtype == np.float64
    assert tuple(head.shape[: len(batch)]) == batch


def _data_param(name: str) -> str:
    return {"from_counts": "counts"}.get(name, "p")


@pytest.mark.parametrize(
    ("module_name", "name"),
    # merge_sources takes tables already validated (its docstring): it checks nothing.
    [f for f in FUNCTIONS if f[1] != "merge_sources"],
    ids=lambda f: f if isinstance(f, str) else None,
)
@pytest.mark.parametrize("batch", [(), (2,), (0,)], ids=lambda b: f"batch{len(b)}-{b}")
def test_a_zero_length_table_axis_is_still_refused(module_name: str, name: str, batch) -> None:
    measure = "imin"
    shape = (*batch, 2, 0, 2)  # the second source has no outcome
    p = _zeros(module_name, shape)
    with pytest.raises(
        InvalidDistributionError, match=rf"`{_data_param(name)}` parameter .*non-empty table"
    ):
        _call(module_name, name, p, 2, measure, True)


def test_entropy_of_an_empty_batch_of_large_tables() -> None:
    # Tables above the fused kernels' size limit (4096 cells) take a path of their own.
    from synergy import entropy

    for validate in (True, False):
        out = entropy(np.zeros((0, 65, 65)), batch_ndim=1, validate=validate)
        assert isinstance(out, np.ndarray)
        assert out.shape == (0,)
        assert out.dtype == np.float64


def test_an_empty_batch_still_checks_its_other_parameters() -> None:
    # An empty batch skips the arithmetic, not the checks of the keywords.
    from synergy import entropy, mutual_information, wms

    empty = np.zeros((0, 2, 2, 2))
    with pytest.raises(InvalidParameterError, match="`axes`"):
        entropy(empty, 5, batch_ndim=1)
    with pytest.raises(InvalidParameterError, match="`sources`"):
        wms(empty, [0, 2], batch_ndim=1)
    with pytest.raises(InvalidParameterError, match="`base`"):
        mutual_information(empty, base=1, batch_ndim=1)


def test_torch_empty_batch_keeps_the_graph() -> None:
    torch = pytest.importorskip("torch")
    import synergy.torch as st

    p = torch.zeros((0, 2, 2, 2), dtype=torch.float64, requires_grad=True)
    calls: dict[str, Callable[[], Any]] = {
        "entropy": lambda: st.entropy(p, batch_ndim=1),
        "mutual_information": lambda: st.mutual_information(p, batch_ndim=1),
        "wms": lambda: st.wms(p, batch_ndim=1),
        "i_max": lambda: st.i_max(p, batch_ndim=1),
        "i_min": lambda: st.i_min(p, batch_ndim=1),
        "s_max": lambda: st.s_max(p, batch_ndim=1),
        "decompose sx": lambda: st.decompose(p, "sx", batch_ndim=1).synergy,
    }
    for name, call in calls.items():
        out = call()
        out.sum().backward()  # a loss over an empty batch: zero, with a gradient of zeros
        assert p.grad is not None, name
        assert p.grad.shape == p.shape, name
        p.grad = None
