"""The PID measure registry: registration, validation, lookup and the lattice decomposition."""

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from synergy._validate import InvalidDistributionError, InvalidParameterError, InvalidTypeError
from synergy.pid import decompose
from synergy.pid.lattice import redundancy_lattice
from synergy.pid.registry import (
    Measure,
    get_measure,
    lattice_decomposition,
    measure_names,
    merge_sources,
    register_alias,
    register_decomposition,
    register_measure,
    unregister_measure,
)
from synergy.testing import AND, GATES, XOR, XOR3
from tests._dit import random_table


def _specific_information(p: np.ndarray, element: tuple[int, ...]) -> np.ndarray:
    """I(Y=y; A) in bits for A the union of the sources in ``element``, written out here."""
    n_sources = p.ndim - 1
    drop = tuple(i for i in range(n_sources) if i not in element)
    joint = p.sum(axis=drop).reshape(-1, p.shape[-1])  # p(a, y)
    p_a, p_y = joint.sum(axis=1), joint.sum(axis=0)
    out = np.zeros(p.shape[-1])
    for y in range(p.shape[-1]):
        for a in range(joint.shape[0]):
            if joint[a, y] > 0:
                conditional = joint[a, y] / p_y[y]
                out[y] += conditional * np.log2(joint[a, y] / (p_a[a] * p_y[y]))
    return out


def user_imin(p: np.ndarray, alpha: tuple) -> float:
    """A user's I_min (Williams & Beer 2010, eq. 9), loops and all."""
    p_y = p.sum(axis=tuple(range(p.ndim - 1)))
    spec = np.min([_specific_information(p, element) for element in alpha], axis=0)
    return float(p_y @ spec)


@pytest.fixture
def registered() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        unregister_measure(name)


def test_builtins_are_registered() -> None:
    assert {"mmi", "ccs", "dep", "sx", "pm", "gk"} <= set(measure_names())
    record = get_measure("dep")
    assert isinstance(record, Measure)
    assert record.max_sources == 2
    assert record.decomposition is not None
    assert get_measure("mmi").batched is not None
    assert get_measure("mmi").max_sources == 4


@pytest.mark.parametrize(
    "table", [AND, XOR, GATES["COPY"].table, XOR3], ids=["AND", "XOR", "COPY", "XOR3"]
)
def test_user_imin_gives_the_atoms_of_decompose_imin(registered: list[str], table) -> None:
    # Reference: synergy.pid.decompose(p, "imin"), the library's own I_min lattice, against
    # a user's redundancy registered through the public call.
    register_measure("user_imin", user_imin)
    registered.append("user_imin")
    ours = lattice_decomposition("user_imin", table)
    reference = decompose(table, "imin")
    for node, value in reference.atoms.items():
        np.testing.assert_allclose(ours.atoms[node], value, atol=1e-12, err_msg=str(node))
        np.testing.assert_allclose(
            ours.redundancies[node], reference.redundancies[node], atol=1e-12
        )


def test_user_imin_on_random_tables(registered: list[str]) -> None:
    # Same reference, on seeded random tables of 2 and 3 sources with zero cells.
    register_measure("user_imin", user_imin)
    registered.append("user_imin")
    rng = np.random.default_rng(1)
    for shape in [(3, 2, 2), (2, 2, 3, 2)]:
        table = random_table(rng, shape, zeros=True)
        ours = lattice_decomposition("user_imin", table)
        reference = decompose(table, "imin")
        for node, value in reference.atoms.items():
            np.testing.assert_allclose(ours.atoms[node], value, atol=1e-12, err_msg=str(node))


def test_a_batch_loops_over_a_measure_without_batched(registered: list[str]) -> None:
    register_measure("user_imin", user_imin)
    registered.append("user_imin")
    rng = np.random.default_rng(2)
    tables = np.stack([random_table(rng, (2, 3, 2)) for _ in range(4)]).reshape(2, 2, 2, 3, 2)
    batch = lattice_decomposition("user_imin", tables, batch_ndim=2)
    assert batch.atom_values.shape == (2, 2, 4)
    assert batch.atoms[((0,), (1,))].shape == (2, 2)
    for index in np.ndindex(2, 2):
        one = decompose(tables[index], "imin")
        np.testing.assert_allclose(
            [batch.atoms[node][index] for node in one.atoms], list(one.atoms.values()), atol=1e-12
        )


def test_batched_function_is_used_for_batches(registered: list[str]) -> None:
    calls = []

    def batched(stack: np.ndarray, alpha: tuple) -> np.ndarray:
        calls.append(stack.shape)
        return np.array([user_imin(p, alpha) for p in stack])

    register_measure("user_imin_b", user_imin, batched=batched)
    registered.append("user_imin_b")
    tables = np.stack([AND, XOR, AND])
    result = lattice_decomposition("user_imin_b", tables, batch_ndim=1)
    assert calls == [(3, 2, 2, 2)] * 4  # once per lattice node, the whole stack each time
    np.testing.assert_allclose(result.atoms[((0, 1),)], [0.5, 1.0, 0.5], atol=1e-12)


def test_registered_decomposition(registered: list[str]) -> None:
    # A measure that supplies its atoms itself: everything synergistic (a toy rule); the
    # redundancies follow by summing the atoms below each node.
    def all_synergy(stack: np.ndarray) -> np.ndarray:
        joint = stack.reshape(stack.shape[0], -1, stack.shape[-1])
        atoms = np.zeros((stack.shape[0], 4))
        p_x, p_y = joint.sum(axis=2), joint.sum(axis=1)
        ratio = np.where(joint > 0, joint / (p_x[:, :, None] * p_y[:, None, :] + (joint == 0)), 1)
        atoms[:, 3] = (joint * np.log2(ratio)).sum(axis=(1, 2))
        return atoms

    register_decomposition("all_synergy", all_synergy)
    registered.append("all_synergy")
    result = lattice_decomposition("all_synergy", AND)
    # I(X1 X2; AND) = H(Y) = h(1/4) = 0.811278 bits, by hand.
    np.testing.assert_allclose(result.atoms[((0, 1),)], 0.8112781244591328, atol=1e-12)
    np.testing.assert_allclose(result.redundancies[((0, 1),)], 0.8112781244591328, atol=1e-12)
    np.testing.assert_allclose(result.redundancies[((0,),)], 0.0, atol=1e-12)
    assert result.lattice is redundancy_lattice(2)


def test_duplicate_name_needs_replace(registered: list[str]) -> None:
    register_measure("twice", user_imin)
    registered.append("twice")
    with pytest.raises(InvalidParameterError, match=r"`name`.*already registered"):
        register_measure("twice", user_imin)
    with pytest.raises(InvalidParameterError, match="already registered"):
        register_measure("mmi", user_imin)
    replaced = register_measure("twice", user_imin, max_sources=3, replace=True)
    assert get_measure("twice") is replaced
    assert replaced.max_sources == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"name": 3}, InvalidTypeError, "`name` parameter of register_measure must be a string"),
        ({"name": "has space"}, InvalidParameterError, "a letter followed by"),
        ({"name": ""}, InvalidParameterError, "a letter followed by"),
        ({"redundancy": 1.0}, InvalidTypeError, "`redundancy`.*a callable. Got 1.0"),
        ({"batched": "fast"}, InvalidTypeError, "`batched`.*a callable or None"),
        ({"max_sources": 1}, InvalidParameterError, "`max_sources`.*from 2 to 4. Got 1"),
        ({"max_sources": 5}, InvalidParameterError, "from 2 to 4. Got 5"),
        ({"max_sources": 2.0}, InvalidTypeError, "`max_sources`.*an integer"),
        ({"max_sources": True}, InvalidTypeError, "`max_sources`.*an integer"),
    ],
)
def test_register_measure_rejects_bad_arguments(kwargs: dict, error: type, pattern: str) -> None:
    arguments = {"name": "bad", "redundancy": user_imin} | kwargs
    name = arguments.pop("name")
    redundancy = arguments.pop("redundancy")
    with pytest.raises(error, match=pattern):
        register_measure(name, redundancy, **arguments)
    assert "bad" not in measure_names()


def test_register_decomposition_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidTypeError, match=r"`decomposition`.*a callable"):
        register_decomposition("bad", None)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="`max_sources`"):
        register_decomposition("bad", lambda stack: stack, max_sources=7)


def test_lookup_errors() -> None:
    with pytest.raises(InvalidParameterError, match=r"`name` parameter of get_measure.*'mmi'"):
        get_measure("nope")
    with pytest.raises(InvalidTypeError, match="`name`"):
        get_measure(None)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="`measure` parameter of lattice_decompos"):
        lattice_decomposition("nope", AND)
    with pytest.raises(InvalidParameterError, match="unregister_measure"):
        unregister_measure("nope")


def test_lattice_decomposition_checks_the_table(registered: list[str]) -> None:
    register_measure("two_only", user_imin, max_sources=2)
    registered.append("two_only")
    with pytest.raises(InvalidDistributionError, match=r"2 to 2 source axes.*Got 3 source axes"):
        lattice_decomposition("two_only", XOR3)
    with pytest.raises(InvalidDistributionError, match="`p`"):
        lattice_decomposition("mmi", np.full((2, 2), 0.25))
    with pytest.raises(InvalidDistributionError, match="`p`"):
        lattice_decomposition("mmi", np.full((2, 2, 2), 0.5))


def test_import_synergy_does_not_load_the_measures() -> None:
    # The built-ins register on first lookup, so `import synergy` stays light.
    code = "import sys, synergy; print('synergy.pid.measures' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_merge_sources_matches_decompose_groups(registered: list[str]) -> None:
    # Reference: decompose(p, "imin", sources=...) merges groups itself; the registry's
    # merge followed by a user's I_min must give the same atoms. Axis 3 is summed out.
    register_measure("user_imin", user_imin)
    registered.append("user_imin")
    rng = np.random.default_rng(8)
    table = random_table(rng, (2, 3, 2, 2, 3))
    groups = ((0, 2), (1,))
    merged = merge_sources(table, groups)
    assert merged.shape == (4, 3, 3)
    # Group (0, 2) in C order: x0 = 1, x2 = 0 is merged value 2.
    np.testing.assert_allclose(merged[2, 2, 1], table[1, 2, 0, :, 1].sum(), atol=1e-15)
    reference = decompose(table, "imin", sources=[(0, 2), (1,)])
    ours = lattice_decomposition("user_imin", merged)
    for node, value in reference.atoms.items():
        np.testing.assert_allclose(ours.atoms[node], value, atol=1e-12, err_msg=str(node))
    batch = merge_sources(np.stack([table, table]), groups, batch_ndim=1)
    np.testing.assert_array_equal(batch[1], merged)


def test_every_node_is_used_for_the_whole_lattice(registered: list[str]) -> None:
    # Reference: the same user I_min called node by node (the loop in the registry).
    calls = []

    def every_node(stack: np.ndarray, lattice) -> np.ndarray:
        calls.append(len(lattice.nodes))
        return np.array([[user_imin(p, node) for node in lattice.nodes] for p in stack])

    register_measure("user_imin_all", user_imin, every_node=every_node)
    register_measure("user_imin", user_imin)
    registered.extend(["user_imin_all", "user_imin"])
    ours = lattice_decomposition("user_imin_all", XOR3)
    reference = lattice_decomposition("user_imin", XOR3)
    assert calls == [18]  # one call for the 18 nodes of the 3-source lattice
    np.testing.assert_allclose(ours.atom_values, reference.atom_values, atol=1e-12)
    with pytest.raises(InvalidTypeError, match="`every_node`"):
        register_measure("bad", user_imin, every_node=3)  # type: ignore[arg-type]


def test_alias_and_options(registered: list[str]) -> None:
    register_alias("second_name", "mmi")
    registered.append("second_name")
    assert get_measure("second_name") is get_measure("mmi")
    assert "second_name" in measure_names()
    with pytest.raises(InvalidParameterError, match=r"`alias`.*already registered"):
        register_alias("second_name", "mmi")
    with pytest.raises(InvalidParameterError, match="`name` parameter of register_alias"):
        register_alias("third_name", "no_such_measure")
    # Options reach a decomposition only when it was registered with them.
    seen = []

    def with_option(stack: np.ndarray, *, scale: float = 1.0) -> np.ndarray:
        seen.append(scale)
        return np.zeros((stack.shape[0], 4))

    register_decomposition("with_option", with_option, options=("scale",))
    registered.append("with_option")
    lattice_decomposition("with_option", AND, options={"scale": 2.0})
    assert seen == [2.0]
    with pytest.raises(InvalidParameterError, match=r"`options`.*\['scale'\]"):
        lattice_decomposition("with_option", AND, options={"solver": "auto"})
    with pytest.raises(InvalidParameterError, match="`options`"):
        lattice_decomposition("mmi", AND, options={"solver": "auto"})
    with pytest.raises(InvalidTypeError, match="`options`"):
        register_decomposition("bad", with_option, options="scale")


def test_measures_is_a_live_read_only_view(registered: list[str]) -> None:
    from synergy.pid import MEASURES

    assert "later_measure" not in MEASURES
    register_measure("later_measure", user_imin)
    registered.append("later_measure")
    assert "later_measure" in MEASURES
    assert tuple(MEASURES) == measure_names()
    assert measure_names() == MEASURES
    assert len(MEASURES) == len(measure_names())
    with pytest.raises(TypeError):
        MEASURES[0] = "x"  # type: ignore[index]
