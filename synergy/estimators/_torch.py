"""The one place the torch estimators import torch, so a missing torch names the extra to install.

Import ``torch``, ``Tensor`` and ``nn`` from here rather than from torch directly.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from synergy._validate import (
    InvalidDistributionError,
    InvalidParameterError,
    InvalidTypeError,
    describe,
    invalid,
)

try:
    import torch
    from torch import Tensor, nn
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "synergy's differentiable estimators need PyTorch, which is an optional extra: "
        'install it with `pip install "synergy[torch]"` (on a CPU-only machine install '
        "a CPU build of torch first, e.g. `pip install torch --index-url "
        "https://download.pytorch.org/whl/cpu`)."
    ) from exc


# Checks shared by the torch estimators. Each one that reads tensor values forces a
# device sync, so callers run them only when ``validate=True``.


def describe_tensor(x: Any) -> str:
    if isinstance(x, Tensor):
        return f"a tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    return describe(x)


def check_float_tensor(x: Any, param: str, func: str, *, min_ndim: int = 0) -> None:
    """Raise unless ``x`` is a floating-point tensor with at least ``min_ndim`` axes."""
    if not isinstance(x, Tensor) or not x.is_floating_point():
        raise invalid(
            param,
            func,
            "a floating-point torch.Tensor",
            describe_tensor(x),
            kind=InvalidTypeError,
        )
    if x.ndim < min_ndim:
        raise invalid(
            param,
            func,
            f"a tensor with at least {min_ndim} axes",
            f"a tensor of shape {tuple(x.shape)}",
        )


def check_finite(x: Tensor, param: str, func: str) -> None:
    """Raise if ``x`` holds NaN or infinity (reads the values: one device sync)."""
    if not bool(torch.isfinite(x).all()):
        bad = x[~torch.isfinite(x)].reshape(-1)[0].item()
        raise invalid(
            param,
            func,
            "finite (no NaN or infinity)",
            f"a tensor containing {bad!r}",
            kind=InvalidDistributionError,
        )


def check_mu_logvar(
    mu: Any, logvar: Any, func: str, *, ndim: int | None = None, finite: bool = True
) -> None:
    """Raise unless ``mu`` and ``logvar`` are float tensors of one shape (and finite)."""
    check_float_tensor(mu, "mu", func, min_ndim=1)
    check_float_tensor(logvar, "logvar", func, min_ndim=1)
    if ndim is not None and mu.ndim != ndim:
        raise invalid(
            "mu",
            func,
            f"a tensor with {ndim} axes (batch, latent dimension)",
            f"a tensor of shape {tuple(mu.shape)}",
        )
    if logvar.shape != mu.shape:
        raise invalid(
            "logvar",
            func,
            f"a tensor of the same shape as `mu`, {tuple(mu.shape)}",
            f"shape {tuple(logvar.shape)}",
        )
    if logvar.dtype != mu.dtype or logvar.device != mu.device:
        raise invalid(
            "logvar",
            func,
            f"a tensor of the same dtype and device as `mu` ({mu.dtype}, {mu.device})",
            f"({logvar.dtype}, {logvar.device})",
            kind=InvalidTypeError,
        )
    if mu.numel() == 0:
        raise invalid("mu", func, "a non-empty tensor", f"shape {tuple(mu.shape)}")
    # One device sync for both tensors; look closer only when something is wrong.
    if finite and not bool(torch.isfinite(mu).all() & torch.isfinite(logvar).all()):
        check_finite(mu, "mu", func)
        check_finite(logvar, "logvar", func)


def check_real(
    value: Any,
    param: str,
    func: str,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    expected: str,
) -> float:
    """Return ``value`` as a float if it is a real number in the stated range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise invalid(param, func, expected, describe(value), kind=InvalidTypeError)
    v = float(value)
    if not math.isfinite(v) or v < low or v > high or (low_open and v == low):
        raise invalid(param, func, expected, repr(value))
    return v


def check_index_group(group: Any, n: int, param: str, func: str) -> tuple[int, ...]:
    """Normalise one group of indices into ``range(n)`` (an int or a sequence of ints)."""
    if isinstance(group, numbers.Integral) and not isinstance(group, bool):
        items: Sequence[Any] = (group,)
    elif isinstance(group, Tensor) and group.ndim <= 1 and not group.is_floating_point():
        items = group.reshape(-1).tolist()
    elif isinstance(group, (str, bytes)) or not isinstance(group, Sequence):
        raise invalid(
            param,
            func,
            "an index or a sequence of indices",
            describe(group),
            kind=InvalidTypeError,
        )
    else:
        items = group
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise invalid(param, func, "integer indices", describe(item), kind=InvalidTypeError)
        if not -n <= int(item) < n:
            raise invalid(param, func, f"indices in [-{n}, {n})", f"index {int(item)}")
        out.append(int(item) % n)
    if not out:
        raise invalid(param, func, "a non-empty group of indices", "an empty group")
    if len(set(out)) != len(out):
        raise invalid(param, func, "distinct indices", f"{list(items)!r}")
    return tuple(out)


__all__ = [
    "InvalidDistributionError",
    "InvalidParameterError",
    "InvalidTypeError",
    "Tensor",
    "check_finite",
    "check_float_tensor",
    "check_index_group",
    "check_mu_logvar",
    "check_real",
    "describe_tensor",
    "nn",
    "torch",
]
