"""`target=`: every table function with a target reads it from any table axis.

The invariance tested throughout: moving the target axis of a table from last to axis t and
saying `target=t` (with `sources=` renumbered to the moved table's axes) gives the answer of
the original table, whose own values are tested against dit and the papers in
tests/test_pid_*.py, tests/test_vk*.py and tests/test_information.py.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import synergy
import synergy.pid
from synergy import InvalidParameterError, InvalidTypeError
from synergy.pid import _plumbing as pid_args
from synergy.pid.registry import measure_names
from synergy.testing import AND

Groups = list[tuple[int, ...]]


def _random_tables(shape: tuple[int, ...], batch: tuple[int, ...], seed: int) -> np.ndarray:
    """Dirichlet(1) tables of ``shape`` (target last), with some exact zero cells."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    flat = rng.dirichlet(np.ones(n), size=batch or None)
    flat = np.where(rng.random(flat.shape) < 0.15, 0.0, flat)
    flat /= flat.sum(axis=-1, keepdims=True)
    return flat.reshape(*batch, *shape)


def _moved(groups: Groups | None, t: int) -> Groups | None:
    """Source groups of a table (target last) renumbered for the same table with its
    target moved to axis ``t`` (``np.moveaxis(p, -1, t)``)."""
    if groups is None:
        return None
    return [tuple(a + (a >= t) for a in g) for g in groups]


# (table shape with the target last, source groups in that table's axes or None)
LAYOUTS = [
    ((2, 3, 2), None),
    ((3, 2, 3), [(1,), (0,)]),
    ((2, 2, 3, 2), None),
    ((2, 2, 3, 2), [(0, 2), (1,)]),
    ((2, 3, 2, 2), [(0,), (2,)]),  # axis 1 summed out
]


def _cases() -> list[tuple[Any, ...]]:
    cases = []
    for i, (shape, groups) in enumerate(LAYOUTS):
        for batch in ((), (3,)):
            for t in range(len(shape)):
                cases.append((shape, groups, batch, t, 100 * i + len(batch)))
    return cases


CASES = _cases()


def _ids(case: tuple[Any, ...]) -> str:
    shape, groups, batch, t, _ = case
    return f"{'x'.join(map(str, shape))}-{groups}-b{len(batch)}-t{t}"


CLOSED_FORMS: list[Callable[..., Any]] = [
    synergy.wms,
    synergy.i_max,
    synergy.s_max,
    synergy.i_min,
]


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("func", CLOSED_FORMS, ids=lambda f: f.__name__)
def test_closed_forms_read_the_target_from_any_axis(func: Any, case: tuple[Any, ...]) -> None:
    shape, groups, batch, t, seed = case
    p = _random_tables(shape, batch, seed)
    q = np.moveaxis(p, -1, len(batch) + t)
    kw = {"batch_ndim": len(batch)}
    expected = func(p, groups, **kw)
    np.testing.assert_allclose(func(q, _moved(groups, t), target=t, **kw), expected, atol=1e-12)
    # The same axis counted from the end.
    t_neg = t - len(shape)
    np.testing.assert_allclose(
        func(q, _moved(groups, t), target=t_neg, **kw), expected, atol=1e-12
    )


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_union_information_and_s_vk_read_the_target_from_any_axis(case: tuple[Any, ...]) -> None:
    shape, groups, batch, t, seed = case
    p = _random_tables(shape, batch, seed)
    q = np.moveaxis(p, -1, len(batch) + t)
    kw = {"batch_ndim": len(batch)}
    expected = synergy.union_information(p, groups, **kw)
    got = synergy.union_information(q, _moved(groups, t), target=t, **kw)
    for field in ("value", "synergy", "mutual_information", "gap"):
        np.testing.assert_allclose(getattr(got, field), getattr(expected, field), atol=1e-12)
    if len(groups or shape[:-1]) == 2:
        np.testing.assert_allclose(got.unique, expected.unique, atol=1e-12)
        np.testing.assert_allclose(got.shared, expected.shared, atol=1e-12)
    else:  # BROJA's unique and shared informations are defined for two sources
        assert got.unique is None
        assert got.shared is None
    # Q is reported on the merged table, target last, whatever axis held the target.
    np.testing.assert_allclose(got.q, expected.q, atol=1e-12)
    np.testing.assert_array_equal(got.status, expected.status)
    np.testing.assert_allclose(
        synergy.s_vk(q, _moved(groups, t), target=t, **kw), expected.synergy, atol=1e-12
    )


def _decompose_cases() -> list[tuple[Any, ...]]:
    """Every registered measure on two sources; the ones that take more on three."""
    out = []
    for measure in measure_names():
        out.append((measure, (2, 3, 2), None, (), 1, 7))
        out.append((measure, (2, 3, 2), [(1,), (0,)], (2,), 0, 8))
    for measure in ("imin", "mmi"):
        out.append((measure, (2, 2, 2, 2), None, (), 2, 9))
        out.append((measure, (2, 2, 2, 2), [(0,), (1,), (2,)], (2,), 0, 10))
    return out


@pytest.mark.parametrize(
    "case", _decompose_cases(), ids=lambda c: f"{c[0]}-{len(c[1]) - 1}src-b{len(c[3])}-t{c[4]}"
)
def test_decompose_reads_the_target_from_any_axis(case: tuple[Any, ...]) -> None:
    measure, shape, groups, batch, t, seed = case
    p = _random_tables(shape, batch, seed)
    q = np.moveaxis(p, -1, len(batch) + t)
    kw = {"batch_ndim": len(batch)}
    expected = synergy.decompose(p, measure, groups, **kw)
    got = synergy.decompose(q, measure, _moved(groups, t), target=t, **kw)
    assert got.atoms.keys() == expected.atoms.keys()
    for node, value in expected.atoms.items():
        np.testing.assert_allclose(got.atoms[node], value, atol=1e-10)
    np.testing.assert_allclose(got.mutual_information, expected.mutual_information, atol=1e-12)
    assert got.measure == expected.measure
    # The result names the sources in the axes of the table it was given.
    default = [(a,) for a in range(len(shape) - 1)]
    assert got.sources == tuple(_moved(groups or default, t) or ())
    assert expected.sources == tuple(groups or default)


@pytest.mark.parametrize("t", [0, 1, 2])
@pytest.mark.parametrize("batch", [(), (3,)])
def test_lattice_decomposition_and_merge_sources_read_the_target(
    t: int, batch: tuple[int, ...]
) -> None:
    p = _random_tables((2, 3, 2), batch, 11 + t)
    q = np.moveaxis(p, -1, len(batch) + t)
    kw = {"batch_ndim": len(batch)}
    expected = synergy.pid.lattice_decomposition("mmi", p, **kw)
    got = synergy.pid.lattice_decomposition("mmi", q, target=t, **kw)
    np.testing.assert_allclose(got.atom_values, expected.atom_values, atol=1e-12)
    groups = [(1,), (0,)]
    np.testing.assert_array_equal(
        synergy.pid.merge_sources(q, _moved(groups, t), target=t, **kw),
        synergy.pid.merge_sources(p, groups, **kw),
    )


@pytest.mark.parametrize("t", [0, 1, 2, 3])
@pytest.mark.parametrize("batch", [(), (3,)])
def test_specific_information_reads_the_target(t: int, batch: tuple[int, ...]) -> None:
    p = _random_tables((2, 3, 2, 3), batch, 21 + t)
    q = np.moveaxis(p, -1, len(batch) + t)
    kw = {"batch_ndim": len(batch)}
    for a in ([0, 2], 1):
        a_moved = [x + (x >= t) for x in np.atleast_1d(a)]
        np.testing.assert_allclose(
            synergy.specific_information(q, a_moved, target=t, **kw),
            synergy.specific_information(p, a, **kw),
            atol=1e-12,
        )


def test_the_reported_and_gate() -> None:
    # S_max(AND) = I(X1,X2;Y) - I_max = 0.811278 - 0.311278 = 0.5 bits (Griffith & Koch
    # 2014, the AND gate); with the target first and no `target`, the old silent answer
    # 0.1887 treated X2 as the target.
    first = np.moveaxis(AND, -1, 0)
    assert synergy.s_max(first, target=0) == pytest.approx(0.5, abs=1e-12)
    assert synergy.s_max(first, sources=[1, 2], target=0) == pytest.approx(0.5, abs=1e-12)
    # S_VK(AND) = 0.5 bits too: BROJA synergy of AND (Bertschinger et al. 2014, Table 1).
    assert synergy.s_vk(first, target=0) == pytest.approx(0.5, abs=1e-9)


@pytest.mark.parametrize(
    "func",
    [*CLOSED_FORMS, synergy.s_vk, synergy.specific_information],
    ids=lambda f: f.__name__,
)
def test_default_target_is_the_last_axis(func: Any) -> None:
    # target=-1 and its positive spelling give exactly (bit for bit) the default answer.
    p = _random_tables((2, 3, 2), (), 31)
    args = ([0],) if func is synergy.specific_information else ()
    expected = func(p, *args)
    np.testing.assert_array_equal(func(p, *args, target=-1), expected)
    np.testing.assert_array_equal(func(p, *args, target=2), expected)
    np.testing.assert_array_equal(func(p, *args, target=np.int64(2)), expected)


def test_default_target_on_the_canonical_gates() -> None:
    # AND: I_min = 0.311278 bits (Williams & Beer 2010, Fig. 4), S_max = 0.5 bits
    # (Griffith & Koch 2014); WMS = 0.811278 - 2 * 0.311278 = 0.188722 bits.
    assert synergy.i_min(AND, target=-1) == pytest.approx(0.311278, abs=1e-6)
    assert synergy.s_max(AND, target=-1) == pytest.approx(0.5, abs=1e-12)
    assert synergy.wms(AND, target=-1) == pytest.approx(0.188722, abs=1e-6)


def test_no_copy_when_the_target_is_last() -> None:
    p = _random_tables((2, 3, 2), (4,), 41)
    for target in (-1, 2):
        table, *_ = pid_args.prepare(
            p, None, func="wms", base=2, batch_ndim=1, validate=True, target=target
        )
        assert table is p
    q = np.ascontiguousarray(np.moveaxis(p, -1, 1))
    moved, *_ = pid_args.prepare(
        q, None, func="wms", base=2, batch_ndim=1, validate=True, target=0
    )
    assert np.shares_memory(moved, q)  # a view, not a copy
    np.testing.assert_array_equal(moved, p)


# ---------------------------------------------------------------- bad targets


def _calls() -> list[tuple[str, Callable[..., Any]]]:
    """Every numpy function with a target, called on a table or a batch with ``**kw``."""

    def decompose(p: Any, **kw: Any) -> Any:
        return synergy.decompose(p, "imin", **kw)

    def lattice(p: Any, **kw: Any) -> Any:
        return synergy.pid.lattice_decomposition("mmi", p, **kw)

    def merge(p: Any, **kw: Any) -> Any:
        sources = kw.pop("sources", [(0,), (1,)])
        return synergy.pid.merge_sources(p, sources, **kw)

    def specific(p: Any, **kw: Any) -> Any:
        return synergy.specific_information(p, kw.pop("sources", [0])[0], **kw)

    return [
        ("wms", synergy.wms),
        ("i_max", synergy.i_max),
        ("s_max", synergy.s_max),
        ("i_min", synergy.i_min),
        ("union_information", synergy.s_vk),
        ("union_information", synergy.union_information),
        ("decompose", decompose),
        ("lattice_decomposition", lattice),
        ("merge_sources", merge),
        ("specific_information", specific),
    ]


CALLS = _calls()
CALL_IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CALLS)]


@pytest.mark.parametrize(("name", "call"), CALLS, ids=CALL_IDS)
@pytest.mark.parametrize("bad", [1.0, np.float64(2.0), "2", True, None, [2]])
def test_a_target_that_is_no_integer_is_refused(name: str, call: Any, bad: Any) -> None:
    with pytest.raises(InvalidTypeError, match=rf"The `target` parameter of {name} must be an"):
        call(AND, target=bad)


@pytest.mark.parametrize(("name", "call"), CALLS, ids=CALL_IDS)
@pytest.mark.parametrize("bad", [3, -4, 10])
def test_a_target_out_of_range_is_refused(name: str, call: Any, bad: Any) -> None:
    with pytest.raises(
        InvalidParameterError,
        match=rf"`target` parameter of {name} must be a table axis in the range \[-3, 3\)"
        rf".* Got axis {bad} instead",
    ):
        call(AND, target=bad)


@pytest.mark.parametrize(("name", "call"), CALLS, ids=CALL_IDS)
def test_a_target_inside_the_batch_axes_is_refused(name: str, call: Any) -> None:
    batch = np.stack([AND, AND])  # the batch axis is axis 0 of the array, no table axis
    with pytest.raises(
        InvalidParameterError,
        match=rf"`target` parameter of {name} must be a table axis in the range \[-3, 3\) of a"
        r" table with 3 axes \(the batch_ndim=1 batch axes are not counted\)\. Got axis -4",
    ):
        call(batch, target=-4, batch_ndim=1)


@pytest.mark.parametrize(
    ("name", "call"),
    [c for c in CALLS if c[0] != "lattice_decomposition"],  # its sources: every other axis
    ids=[i for i in CALL_IDS if not i.startswith("lattice")],
)
def test_a_source_on_the_target_axis_names_both_parameters(name: str, call: Any) -> None:
    param = "groups" if name == "merge_sources" else "a" if "specific" in name else "sources"
    with pytest.raises(
        InvalidParameterError,
        match=rf"`{param}` parameter of {name} must be source axes that exclude the target "
        r"\(`target`, axis 1\)\. Got a group \[1\] containing it",
    ):
        call(AND, sources=[(1,), (0,)], target=1)
    # The same sources with the target elsewhere are fine.
    call(AND, sources=[(1,), (0,)], target=2)


# ---------------------------------------------------------------- torch


TORCH_NAMES = ["wms", "i_max", "s_max", "i_min"]
TORCH_VK_NAMES = ["s_vk", "union_information"]


@pytest.mark.torch
@pytest.mark.parametrize(
    "case", _decompose_cases(), ids=lambda c: f"{c[0]}-{len(c[1]) - 1}src-b{len(c[3])}-t{c[4]}"
)
def test_torch_decompose_reads_the_target_from_any_axis(case: tuple[Any, ...]) -> None:
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("synergy.torch")
    from synergy.torch._decompose import GRADIENT_MEASURES

    measure, shape, groups, batch, t, seed = case
    if measure not in GRADIENT_MEASURES:
        pytest.skip(f"{measure} has no torch form")
    p = _random_tables(shape, batch, seed)
    q = torch.tensor(np.moveaxis(p, -1, len(batch) + t), requires_grad=True)
    kw = {"batch_ndim": len(batch)}
    got = st.decompose(q, measure, _moved(groups, t), target=t, **kw)
    # The reference is numpy's decompose of the table with its target last.
    expected = synergy.decompose(p, measure, groups, **kw)
    for node, value in expected.atoms.items():
        np.testing.assert_allclose(got.atoms[node].detach().numpy(), value, atol=1e-9)
    default = [(a,) for a in range(len(shape) - 1)]
    assert got.sources == tuple(_moved(groups or default, t) or ())
    got.synergy.sum().backward()
    assert q.grad is not None
    assert q.grad.shape == q.shape


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("name", TORCH_NAMES)
def test_torch_closed_forms_read_the_target_from_any_axis(
    name: str, case: tuple[Any, ...]
) -> None:
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("synergy.torch")
    shape, groups, batch, t, seed = case
    p = _random_tables(shape, batch, seed)
    q = torch.tensor(np.moveaxis(p, -1, len(batch) + t), requires_grad=True)
    kw = {"batch_ndim": len(batch)}
    got = getattr(st, name)(q, _moved(groups, t), target=t, **kw)
    expected = getattr(st, name)(torch.tensor(p), groups, **kw)
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)
    # The torch answer is the numpy answer too.
    np.testing.assert_allclose(
        got.detach().numpy(), getattr(synergy, name)(p, groups, **kw), atol=1e-12
    )
    # Gradients reach the table as given, in its own layout.
    got.sum().backward()
    assert q.grad is not None
    assert q.grad.shape == q.shape


@pytest.mark.torch
@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_torch_union_information_and_s_vk_read_the_target_from_any_axis(
    case: tuple[Any, ...],
) -> None:
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("synergy.torch")
    shape, groups, batch, t, seed = case
    p = _random_tables(shape, batch, seed)
    q = torch.tensor(np.moveaxis(p, -1, len(batch) + t), requires_grad=True)
    kw = {"batch_ndim": len(batch)}
    moved = _moved(groups, t)
    # The numpy solver on the table with its target last is the independent answer.
    expected = synergy.union_information(p, groups, **kw)
    got_union = st.union_information(q, moved, target=t, **kw)
    np.testing.assert_allclose(got_union.detach().numpy(), expected.value, atol=1e-9)
    got_s_vk = st.s_vk(q, moved, target=t - len(shape), **kw)  # counted from the end
    np.testing.assert_allclose(got_s_vk.detach().numpy(), expected.synergy, atol=1e-9)
    # Gradients reach the table as given, in its own layout, and match those of the
    # table with its target last moved to the same layout.
    got_s_vk.sum().backward()
    assert q.grad is not None
    p_last = torch.tensor(p, requires_grad=True)
    st.s_vk(p_last, groups, **kw).sum().backward()
    assert p_last.grad is not None
    torch.testing.assert_close(
        q.grad, torch.movedim(p_last.grad, -1, len(batch) + t), atol=1e-7, rtol=0
    )


@pytest.mark.torch
@pytest.mark.parametrize("name", [*TORCH_NAMES, *TORCH_VK_NAMES])
def test_torch_bad_targets_are_refused(name: str) -> None:
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("synergy.torch")
    func = getattr(st, name)
    table = torch.tensor(AND)
    with pytest.raises(InvalidTypeError, match=rf"`target` parameter of {name} must be an"):
        func(table, target=1.0)
    with pytest.raises(InvalidParameterError, match=rf"`target` parameter of {name}.*axis 3"):
        func(table, target=3)
    with pytest.raises(InvalidParameterError, match=r"batch_ndim=1 batch axes are not counted"):
        func(torch.stack([table, table]), target=-4, batch_ndim=1)
    with pytest.raises(InvalidParameterError, match=r"`sources`.*\(`target`, axis 0\)"):
        func(table, sources=[0, 1], target=0)
    # S_max(AND) = 0.5 bits (Griffith & Koch 2014) with the target first.
    if name == "s_max":
        value = func(torch.movedim(table, -1, 0), target=0)
        assert float(value) == pytest.approx(0.5, abs=1e-12)


# ---------------------------------------------------------------- coverage


# Every public function with a `target` parameter, and the tests above that check it.
COVERED = {
    "synergy.wms",
    "synergy.i_max",
    "synergy.s_max",
    "synergy.i_min",
    "synergy.s_vk",
    "synergy.union_information",
    "synergy.decompose",
    "synergy.specific_information",
    "synergy.pid.wms",
    "synergy.pid.i_max",
    "synergy.pid.s_max",
    "synergy.pid.i_min",
    "synergy.pid.s_vk",
    "synergy.pid.union_information",
    "synergy.pid.decompose",
    "synergy.pid.lattice_decomposition",
    "synergy.pid.merge_sources",
}
# synergy.torch's, where torch is installed.
COVERED_TORCH = {
    "synergy.torch.wms",
    "synergy.torch.i_max",
    "synergy.torch.s_max",
    "synergy.torch.i_min",
    "synergy.torch.s_vk",
    "synergy.torch.union_information",
    "synergy.torch.decompose",
}


def _public_modules() -> list[Any]:
    """synergy, synergy.pid and, where torch is installed, synergy.torch."""
    modules = [synergy, synergy.pid]
    try:
        torch_api = importlib.import_module("synergy.torch")
    except ImportError:  # the torch extra is not installed: no torch functions to cover
        return modules
    return [*modules, torch_api]


def _covered() -> set[str]:
    torch_too = any(m.__name__ == "synergy.torch" for m in _public_modules())
    return COVERED | COVERED_TORCH if torch_too else COVERED


def _public_functions() -> dict[str, Any]:
    out = {}
    for module in _public_modules():
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                out[f"{module.__name__}.{name}"] = obj
    return out


def test_every_public_function_with_a_target_is_tested() -> None:
    functions = _public_functions()
    with_target = {
        name for name, f in functions.items() if "target" in inspect.signature(f).parameters
    }
    covered = _covered()
    assert with_target == covered, (
        "a public function gained or lost `target=`: add it to the tests of this file "
        f"(untested: {sorted(with_target - covered)}, gone: {sorted(covered - with_target)})"
    )


# Functions whose `sources` are no axes of a table with a target.
NO_TARGET = {
    # A number of variables; every variable of the recording takes its turn as the target
    # (chosen by name with `targets=`).
    "synergy.scan",
}


def test_no_target_exclusion_is_stale() -> None:
    functions = _public_functions()
    for name in NO_TARGET:
        if name.startswith("synergy.torch.") and name not in functions:
            continue  # torch not installed
        assert name in functions, f"{name} is no public function"
        assert "target" not in inspect.signature(functions[name]).parameters, (
            f"{name} has `target=` now: test it in this file and take it out of NO_TARGET"
        )


def test_every_public_function_with_sources_has_a_target() -> None:
    # A table function that takes source groups has a target to place too.
    functions = _public_functions()
    missing = {
        name
        for name, f in functions.items()
        if "sources" in inspect.signature(f).parameters
        and "target" not in inspect.signature(f).parameters
    } - NO_TARGET
    assert not missing, f"functions with `sources=` but no `target=`: {sorted(missing)}"


def test_target_is_keyword_only_and_defaults_to_the_last_axis() -> None:
    for name, f in _public_functions().items():
        parameter = inspect.signature(f).parameters.get("target")
        if parameter is None:
            continue
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameter.default == -1, name
