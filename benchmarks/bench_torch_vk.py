"""Benchmark of differentiable S_VK: synergy.torch.s_vk against an unrolled solver and cvxpylayers.

Run: ``python benchmarks/bench_torch_vk.py`` (``--quick`` for a smoke run). Writes
``benchmarks/results/torch_vk.md`` and prints the same markdown section.

On one batch of random 2x2x2 tables, side by side in one run: ``synergy.torch.s_vk`` forward
alone and forward + backward (the goal: at most 1.5x the forward alone); differentiating
through an unrolled solver written in torch (alternating KL projections, backpropagated by
autograd), whose value and gradient errors against the certified solver are reported beside
its times; and cvxpylayers on the conic programme, if it is installed.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

import synergy
import synergy.pid
import synergy.torch as st

RESULTS = Path(__file__).resolve().parent / "results" / "torch_vk.md"
LN2 = math.log(2.0)


def _median(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: numba loads its cache, torch allocates
    walls = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f}, {five:.1f}, {fifteen:.1f}"


# ------------------------------------------------------------ the unrolled torch solver


def _mi_nats(q: torch.Tensor) -> torch.Tensor:
    """I(X1 X2; Y) in nats of tables of shape (batch, n1, n2, ny), 0 log 0 = 0."""
    joint = q.reshape(q.shape[0], -1, q.shape[-1])
    p_x = joint.sum(-1, keepdim=True)
    p_y = joint.sum(-2, keepdim=True)
    positive = joint > 0
    ratio = torch.where(positive, joint, 1.0) / torch.where(positive, p_x * p_y, 1.0)
    return (joint * torch.log(ratio)).sum((-1, -2))


def _scale(m: torch.Tensor, target: torch.Tensor, dim: int) -> torch.Tensor:
    """Scale m along ``dim`` so that its sums over ``dim`` equal ``target`` (0 where empty)."""
    s = m.sum(dim, keepdim=True)
    nonzero = s > 0
    return m * torch.where(nonzero, target / torch.where(nonzero, s, 1.0), 0.0)


def unrolled_s_vk(p: torch.Tensor, n_outer: int, n_inner: int) -> torch.Tensor:
    """S_VK in bits of tables (batch, n1, n2, ny) by unrolled alternating KL projections.

    I_VK = min over Q in Delta(P) and R(x) of D(Q || R(x) P(y)) + const; alternating
    minimisation sets R = Q(x), then projects R(x) P(y) onto Delta(P) in KL divergence, which
    is Sinkhorn scaling per target value (``n_inner`` sweeps of the x1 then the x2 marginal).
    The start, P(x1|y) P(x2|y) P(y), is feasible. Every step is a torch operation, so autograd
    differentiates the whole unrolled loop.
    """
    p_x1y = p.sum(2, keepdim=True)
    p_x2y = p.sum(1, keepdim=True)
    p_y = p.sum((1, 2), keepdim=True)
    q = p_x1y * p_x2y / torch.where(p_y > 0, p_y, 1.0)
    for _ in range(n_outer):
        m = q.sum(-1, keepdim=True).expand_as(q)  # R(x) = Q(x), for every y
        for _ in range(n_inner):
            m = _scale(m, p_x1y, 2)
            m = _scale(m, p_x2y, 1)
        q = m
    return (_mi_nats(p) - _mi_nats(q)) / LN2


# ------------------------------------------------------------------- cvxpylayers


def _cvxpylayers_s_vk(n: int) -> Callable[[torch.Tensor], torch.Tensor] | str:
    """S_VK of (batch, n, n, n) tables through a CvxpyLayer, or why it is unavailable."""
    try:
        import cvxpy as cp
        from cvxpylayers.torch import CvxpyLayer
    except ImportError as error:
        return f"not installed ({error.name})"
    cells = n**3
    index = np.arange(cells).reshape(n, n, n)
    to_x = np.zeros((cells, n * n))
    m1 = np.zeros((n * n, cells))
    m2 = np.zeros((n * n, cells))
    for a in range(n):
        for b in range(n):
            for y in range(n):
                c = index[a, b, y]
                to_x[c, a * n + b] = 1.0
                m1[a * n + y, c] = 1.0
                m2[b * n + y, c] = 1.0
    q = cp.Variable(cells)
    q_x = cp.Variable(n * n)  # its own variable tied by equalities: the fast formulation
    p1 = cp.Parameter(n * n)
    p2 = cp.Parameter(n * n)
    # sum q log(q / q(x)) = -H_Q(Y|X) = I_Q(X; Y) - H(Y), and H(Y) is fixed by the marginals.
    problem = cp.Problem(
        cp.Minimize(cp.sum(cp.rel_entr(q, to_x @ q_x))),
        [m1 @ q == p1, m2 @ q == p2, to_x.T @ q == q_x, q >= 0],
    )
    layer = CvxpyLayer(problem, parameters=[p1, p2], variables=[q])

    def s_vk(p: torch.Tensor) -> torch.Tensor:
        batch = p.shape[0]
        (q_opt,) = layer(
            p.sum(2).reshape(batch, -1),
            p.sum(1).reshape(batch, -1),
            solver_args={"solve_method": "Clarabel"},
        )
        return (_mi_nats(p) - _mi_nats(q_opt.reshape(p.shape))) / LN2

    return s_vk


# --------------------------------------------------------------------------- runs


def _tangent(grad: np.ndarray) -> np.ndarray:
    """The gradient's component along the simplex (per table, its mean removed).

    Off the simplex the methods extend S_VK differently; along directions that keep the
    total mass (e_i - e_j) they must agree.
    """
    flat = grad.reshape(grad.shape[0], -1)
    return flat - flat.mean(axis=1, keepdims=True)


def _time(
    fn: Callable[[torch.Tensor], torch.Tensor], tables: np.ndarray, repeats: int
) -> tuple[float, float, float, np.ndarray, np.ndarray]:
    """(forward no_grad, forward with graph, forward + backward) medians, values, gradients."""
    x = torch.tensor(tables, requires_grad=True)

    def forward() -> object:
        with torch.no_grad():
            return fn(x)

    def graph() -> object:
        return fn(x)

    def forward_backward() -> object:
        x.grad = None
        fn(x).sum().backward()
        return x.grad

    fwd = _median(forward, repeats)
    fwd_graph = _median(graph, repeats)
    fwd_bwd = _median(forward_backward, repeats)
    x.grad = None
    out = fn(x)
    out.sum().backward()
    assert x.grad is not None
    return fwd, fwd_graph, fwd_bwd, out.detach().numpy(), x.grad.numpy()


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(quick: bool = False) -> str:
    n_tables, n_layer, repeats = (1000, 20, 3) if quick else (10_000, 100, 5)
    budgets = [(20, 1), (100, 1), (20, 5), (100, 5)]
    # One thread: on a shared 2-core machine torch's intra-op threads spin against each other.
    torch.set_num_threads(1)
    load_before = _load()
    rng = np.random.default_rng(0)
    tables = rng.dirichlet(np.ones(8), size=n_tables).reshape(n_tables, 2, 2, 2)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reference = synergy.pid.s_vk(tables, batch_ndim=1)
        ours = _time(lambda x: st.s_vk(x, batch_ndim=1, validate=False), tables, repeats)
    notices = sorted({str(w.message)[:160] for w in caught})
    vk_grad = ours[4]
    vk_tangent = _tangent(vk_grad)

    rows = [("synergy.torch.s_vk (certified, envelope gradient)", n_tables, *ours)]
    for n_outer, n_inner in budgets:
        name = f"unrolled, {n_outer} outer x {n_inner} inner"
        rows.append(
            (
                name,
                n_tables,
                *_time(lambda x, a=n_outer, b=n_inner: unrolled_s_vk(x, a, b), tables, repeats),
            )
        )
    layer = _cvxpylayers_s_vk(2)
    if callable(layer):
        rows.append(
            (
                "cvxpylayers 1 call (diffcp + Clarabel)",
                n_layer,
                *_time(layer, tables[:n_layer], max(1, repeats // 2)),
            )
        )
        layer_note = f"cvxpylayers {_version('cvxpylayers')}, diffcp {_version('diffcp')}"
    else:
        layer_note = f"cvxpylayers: {layer}"
    load_after = _load()

    lines = [
        "## Differentiable S_VK: synergy.torch.s_vk against unrolling and cvxpylayers",
        "",
        f"Command: `python benchmarks/bench_torch_vk.py{' --quick' if quick else ''}`. "
        f"Python {platform.python_version()}, torch {torch.__version__} (1 thread), "
        f"numpy {np.__version__}, numba {_version('numba')}, cvxpy {_version('cvxpy')}, "
        f"{layer_note}; {_cpu()}, {os.cpu_count()} logical cores.",
        f"Load average (1, 5, 15 min) before: {load_before}; after: {load_after}.",
        "",
        f"Random 2x2x2 tables, Dirichlet(1) over the 8 cells, float64 on CPU; medians of "
        f"{repeats} runs after a warm-up (cvxpylayers: {max(1, repeats // 2)}). fwd: forward "
        "under no_grad; fwd (graph): forward recording the graph; fwd+bwd: forward, then "
        "backward of the sum. Errors are against the certified numpy solver "
        "(`synergy.pid.s_vk`, gap <= 1e-10 bits): value error in bits, and gradient error "
        "as the largest difference from s_vk's gradient along the simplex (each table's "
        "gradient minus its mean; off the simplex the methods extend S_VK differently), "
        "its maximum and median over the tables. cvxpylayers runs on the first tables of "
        "the batch, in one batched call.",
        "",
        "| method | tables | fwd | fwd (graph) | fwd+bwd | fwd+bwd / fwd | fwd+bwd / fwd (graph) "
        "| fwd+bwd per table | per table / s_vk's | max value error | median value error "
        "| max gradient error | median gradient error |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ours_per_table = rows[0][4] / rows[0][1]
    for name, n, fwd, graph, fb, value, grad in rows:
        err = np.abs(value - reference[:n])
        grad_err = np.abs(_tangent(grad) - vk_tangent[:n]).max(axis=1)
        lines.append(
            f"| {name} | {n} | {fwd * 1e3:.1f} ms | {graph * 1e3:.1f} ms | {fb * 1e3:.1f} ms "
            f"| {fb / fwd:.2f} | {fb / graph:.2f} | {fb / n * 1e6:.1f} us "
            f"| {fb / n / ours_per_table:.1f}x | {err.max():.1e} "
            f"| {np.median(err):.1e} | {grad_err.max():.1e} | {np.median(grad_err):.1e} |"
        )
    fb_ratio = rows[0][4] / rows[0][2]
    lines += [
        "",
        f"Goal (issue 12): s_vk's forward + backward at most 1.5x its forward alone: "
        f"{'met' if fb_ratio <= 1.5 else 'not met'} in this run ({fb_ratio:.2f}x).",
    ]
    if not callable(layer):
        lines += ["", f"cvxpylayers was not run: {layer}."]
    if notices:
        lines += ["", "Solver notices during the run: " + "; ".join(notices)]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(text)
    return text


if __name__ == "__main__":
    print(main(quick="--quick" in sys.argv[1:]))
