"""synergy.torch.decompose with the closed-form redundancies I_sx, I_pm and I_GK: the atoms
equal those of synergy.pid.decompose, and their gradients equal finite differences of it.

The reference values are the numpy measures' (synergy.pid.measures.sx, pm, gk), tested on
their own against the papers' tables and dit (tests/test_pid_measures*.py); the finite
differences call the numpy decompose at perturbed tables, independently of autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import synergy.pid
from synergy._validate import InvalidParameterError
from synergy.testing import GATES

torch = pytest.importorskip("torch")
st = pytest.importorskip("synergy.torch")

pytestmark = pytest.mark.torch

MEASURES = ("sx", "pm", "gk")
# Values: the torch and numpy code sum the same terms in other orders; float64 rounding
# of sums of a few hundred terms of size <= log 16 stays far below this.
VALUE_ATOL = 1e-12
# Five-point stencil at step H: truncation O(H^4 f^(5)) and rounding about 1e-16 / H = 1e-11
# in the quotient; the tolerance leaves two orders of magnitude above both.
H = 1e-5
GRAD_ATOL = 1e-8

SHAPES = [(2, 2, 2), (3, 3, 3), (2, 3, 4), (2, 2, 2, 2), (2, 3, 2, 2)]


def _random_table(shape: tuple[int, ...], seed: int, *, zeros: float = 0.0) -> np.ndarray:
    """A seeded Dirichlet(1) table; with ``zeros`` > 0 that share of cells is set to 0."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(math.prod(shape))).reshape(shape)
    if zeros:
        drop = rng.random(shape) < zeros
        drop.flat[int(np.argmax(p))] = False  # at least one cell keeps its mass
        p[drop] = 0.0
        p /= p.sum()
    return p


def _t(p: np.ndarray, *, requires_grad: bool = False) -> Any:
    return torch.tensor(np.array(p), dtype=torch.float64, requires_grad=requires_grad)


def _atoms_vector(result: Any) -> Any:
    return torch.stack([result.atoms[node] for node in result.atoms], dim=-1)


def _numpy_vector(p: np.ndarray, measure: str, **kw: Any) -> np.ndarray:
    result = synergy.pid.decompose(p, measure, **kw)
    return np.array([result.atoms[node] for node in result.atoms])


def _five_point(
    f: Callable[[np.ndarray], np.ndarray], p: np.ndarray, d: np.ndarray, *, step: float = H
) -> np.ndarray:
    """d/dt f(p + t d) at t = 0 by the central five-point stencil."""
    h = step
    return (8 * (f(p + h * d) - f(p - h * d)) - (f(p + 2 * h * d) - f(p - 2 * h * d))) / (12 * h)


def _jacobian(p: np.ndarray, measure: str, **kw: Any) -> np.ndarray:
    """d atom / d p(cell) by autograd, shape (n_atoms, *p.shape)."""
    x = _t(p, requires_grad=True)
    atoms = _atoms_vector(st.decompose(x, measure, **kw))
    rows = [torch.autograd.grad(a, x, retain_graph=True)[0].numpy() for a in atoms]
    return np.stack(rows)


def _directions(
    p: np.ndarray, seed: int, count: int, cells: np.ndarray | None = None
) -> list[np.ndarray]:
    """``count`` simplex directions e_i - e_j between distinct cells (among ``cells``)."""
    rng = np.random.default_rng(seed)
    pool = np.arange(p.size) if cells is None else cells
    out = []
    for _ in range(count):
        i, j = rng.choice(pool, size=2, replace=False)
        d = np.zeros(p.size)
        d[i], d[j] = 1.0, -1.0
        out.append(d.reshape(p.shape))
    return out


# ------------------------------------------------------------------------------- values


@pytest.mark.parametrize("measure", MEASURES)
@pytest.mark.parametrize("gate", sorted(GATES))
def test_values_equal_numpy_on_every_gate(measure: str, gate: str) -> None:
    table = GATES[gate].table
    got = st.decompose(_t(table), measure)
    want = synergy.pid.decompose(table, measure)
    assert got.measure == want.measure == measure
    assert got.status == "exact"
    assert set(got.atoms) == set(want.atoms)
    for node, value in want.atoms.items():
        assert abs(float(got.atoms[node]) - value) <= VALUE_ATOL, node
        assert abs(float(got.redundancies[node]) - want.redundancies[node]) <= VALUE_ATOL
    assert abs(float(got.mutual_information) - want.mutual_information) <= VALUE_ATOL


@pytest.mark.parametrize("measure", MEASURES)
@pytest.mark.parametrize("zeros", [0.0, 0.35])
@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 3, 2), (2, 2, 3, 2), (3, 2, 2, 3)])
def test_values_equal_numpy_on_random_tables(
    measure: str, zeros: float, shape: tuple[int, ...]
) -> None:
    tables = np.stack([_random_table(shape, seed, zeros=zeros) for seed in range(3)])
    for base in (2, math.e):
        batched = st.decompose(_t(tables), measure, batch_ndim=1, base=base)
        want = synergy.pid.decompose(tables, measure, batch_ndim=1, base=base)
        for node, value in want.atoms.items():
            assert batched.atoms[node].shape == (3,)
            np.testing.assert_allclose(batched.atoms[node].numpy(), value, rtol=0, atol=VALUE_ATOL)
        for b in range(3):
            one = st.decompose(_t(tables[b]), measure, base=base)
            for node, value in want.atoms.items():
                assert one.atoms[node].shape == ()
                assert abs(float(one.atoms[node]) - value[b]) <= VALUE_ATOL


@pytest.mark.parametrize("measure", MEASURES)
def test_values_equal_numpy_with_source_groups_and_two_batch_axes(measure: str) -> None:
    tables = np.stack(
        [_random_table((2, 3, 2, 2), s, zeros=0.3 * (s % 2)) for s in range(4)]
    ).reshape(2, 2, 2, 3, 2, 2)
    for sources in ([(0, 1), (2,)], [(2,), (0,)], [0, 1, 2]):
        got = st.decompose(_t(tables), measure, sources, batch_ndim=2)
        want = synergy.pid.decompose(tables, measure, sources, batch_ndim=2)
        for node, value in want.atoms.items():
            assert got.atoms[node].shape == (2, 2)
            np.testing.assert_allclose(got.atoms[node].numpy(), value, rtol=0, atol=VALUE_ATOL)


# ---------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("measure", MEASURES)
@pytest.mark.parametrize("shape", SHAPES)
def test_gradients_equal_finite_differences(measure: str, shape: tuple[int, ...]) -> None:
    # Every atom along e_i - e_j on random interior tables (every cell > 0: the common
    # variable's partition is fixed near them, and no elements tie for I_pm's maxima).
    # Directions between cells of at least a fifth of the mean mass: near a smaller cell
    # the stencil's truncation error, O((H / p)^4), would exceed the tolerance.
    p = _random_table(shape, 21)
    jacobian = _jacobian(p, measure)
    for d in _directions(p, 3, 4, cells=np.flatnonzero(p > 0.2 / p.size)):
        want = _five_point(lambda t: _numpy_vector(t, measure), p, d)
        got = (jacobian * d).reshape(len(jacobian), -1).sum(axis=1)
        np.testing.assert_allclose(got, want, rtol=0, atol=GRAD_ATOL)


def test_gk_gradient_is_that_of_the_fixed_partition() -> None:
    # Positive cells on the support of RdnXor (X_i = (r, bit), Y = (r, xor)): the common
    # variable is r. Moving mass between cells of the support keeps the partition, so the
    # numpy I_GK is smooth along those directions and autograd must match its differences.
    support = GATES["RdnXor"].table > 0
    rng = np.random.default_rng(5)
    p = np.where(support, rng.uniform(0.5, 1.5, support.shape), 0.0)
    p /= p.sum()
    redundancy = synergy.pid.decompose(p, "gk").redundancy
    assert redundancy > 0.5  # r carries information about Y: the branch is not trivial
    jacobian = _jacobian(p, "gk")
    for d in _directions(p, 7, 6, cells=np.flatnonzero(support)):
        want = _five_point(lambda t: _numpy_vector(t, "gk"), p, d)
        got = (jacobian * d).reshape(len(jacobian), -1).sum(axis=1)
        np.testing.assert_allclose(got, want, rtol=0, atol=GRAD_ATOL)


@pytest.mark.parametrize("measure", ["sx", "pm"])
def test_gradient_at_a_zero_cell_is_the_one_sided_slope(measure: str) -> None:
    # At a zero cell whose union event (I_sx) or best element (I_pm) has mass at the same
    # target value, the redundancy is smooth in that cell: its gradient along
    # e_zero - e_donor is the one-sided slope, here by the forward three-point stencil
    # (error O(h^2)). Every node but the top has such mass here (the other cells are
    # positive); the top node {X1 X2} is the cell's own event, where 0 log 0 holds.
    p = _random_table((3, 3, 2), 11)
    zero, donor = (0, 0, 0), (2, 2, 1)
    p[zero] = 0.0
    p /= p.sum()
    d = np.zeros(p.shape)
    d[zero], d[donor] = 1.0, -1.0
    x = _t(p, requires_grad=True)
    result = st.decompose(x, measure)
    lower = [node for node in result.redundancies if node != ((0, 1),)]
    h = 1e-6

    def f(t: float) -> np.ndarray:
        want = synergy.pid.decompose(p + t * d, measure).redundancies
        return np.array([want[node] for node in lower])

    slopes = (-3 * f(0.0) + 4 * f(h) - f(2 * h)) / (2 * h)
    for node, slope in zip(lower, slopes, strict=True):
        (grad,) = torch.autograd.grad(result.redundancies[node], x, retain_graph=True)
        assert abs(float((grad * torch.from_numpy(d)).sum()) - slope) <= 1e-6, node


@pytest.mark.parametrize("measure", MEASURES)
def test_gradients_are_finite_on_every_gate(measure: str) -> None:
    # The gates are full of zero cells and of ties between sources.
    for gate in GATES.values():
        x = _t(gate.table, requires_grad=True)
        atoms = _atoms_vector(st.decompose(x, measure))
        (grad,) = torch.autograd.grad(atoms.sum(), x)
        assert bool(torch.isfinite(grad).all()), gate.name


@pytest.mark.parametrize("measure", MEASURES)
@pytest.mark.parametrize("shape", [(2, 2, 3), (2, 2, 2, 2)])
def test_gradcheck(measure: str, shape: tuple[int, ...]) -> None:
    # Smooth on interior tables: no zero cell, no tie, a fixed partition for I_GK.
    x = _t(_random_table(shape, 8), requires_grad=True)

    def atoms(t: Any) -> Any:
        return _atoms_vector(st.decompose(t, measure, validate=False))

    assert torch.autograd.gradcheck(atoms, (x,), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("measure", MEASURES)
def test_batched_gradients_equal_per_table(measure: str) -> None:
    tables = np.stack([_random_table((2, 3, 2), s, zeros=0.25 * (s % 2)) for s in range(4)])
    x = _t(tables, requires_grad=True)
    weights = torch.tensor([0.3, -1.0, 2.0, 0.7], dtype=torch.float64)
    result = st.decompose(x, measure, batch_ndim=1)
    loss = (weights * (result.synergy + 0.5 * result.redundancy)).sum()
    (batched,) = torch.autograd.grad(loss, x)
    for b in range(len(tables)):
        y = _t(tables[b], requires_grad=True)
        one = st.decompose(y, measure)
        (single,) = torch.autograd.grad(weights[b] * (one.synergy + 0.5 * one.redundancy), y)
        torch.testing.assert_close(batched[b], single, rtol=0, atol=1e-13)


@pytest.mark.parametrize("measure", MEASURES)
def test_float32_stays_float32(measure: str) -> None:
    x = torch.tensor(GATES["RdnXor"].table, dtype=torch.float32, requires_grad=True)
    result = st.decompose(x, measure)
    want = synergy.pid.decompose(GATES["RdnXor"].table, measure)
    for node, atom in result.atoms.items():
        assert atom.dtype == torch.float32
        # float32 rounding: eps 1.2e-7 on sums of 16 terms of size <= log 16, far below 1e-5.
        assert abs(float(atom.detach()) - want.atoms[node]) <= 1e-5
    (grad,) = torch.autograd.grad(result.synergy, x)
    assert grad.dtype == torch.float32
    assert bool(torch.isfinite(grad).all())


def test_softmax_chain_rule() -> None:
    # Through p = softmax(z) the gradient with respect to the logits is
    # J^T g = p * (g - <p, g>), g the gradient with respect to the table.
    logits = torch.tensor(
        np.random.default_rng(2).normal(size=(2, 2, 3)), dtype=torch.float64, requires_grad=True
    )
    p = torch.softmax(logits.reshape(-1), 0).reshape(2, 2, 3)
    for measure in MEASURES:
        synergy_atom = st.decompose(p, measure).synergy
        (by_logits,) = torch.autograd.grad(synergy_atom, logits, retain_graph=True)
        table = p.detach().clone().requires_grad_()
        (g,) = torch.autograd.grad(st.decompose(table, measure).synergy, table)
        q = table.detach()
        torch.testing.assert_close(by_logits, q * (g - (q * g).sum()), rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- refusals


def test_measures_that_need_a_maximum_entropy_fit_are_refused() -> None:
    p = _t(GATES["AND"].table)
    listed = r"\['broja', 'gk', 'imax', 'imin', 'mmi', 'pm', 'sx', 'vk'\]"
    for measure in ("ccs", "dep"):
        with pytest.raises(InvalidParameterError, match=rf"`measure` parameter.*{listed}"):
            st.decompose(p, measure)
    with pytest.raises(InvalidParameterError, match="`tol` parameter of decompose"):
        st.decompose(p, "gk", tol=1e-12)
    with pytest.raises(InvalidParameterError, match="`sources` parameter of decompose"):
        st.decompose(_t(_random_table((2,) * 6, 0)), "sx")
