"""A compiled kernel that runs interpreted until compiling it pays: the tiered first call.

Used for single tables by the S_VK solver (synergy.pid._vk_batch) and the maximum-entropy
fit (synergy.pid.measures._maxent); batches call their kernels compiled directly.
"""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable
from typing import Any

__all__ = ["INTERPRETED_BUDGET", "Tiered", "cache_is_warm", "interpreted_copy"]

# Compiling `_solve_tables` costs about 13 s of CPU with an empty numba cache; run
# interpreted, the same kernel solves one table in 1 to 25 ms. So a single table (the
# `tiered` calls) runs the interpreted kernel until this process has spent
# `INTERPRETED_BUDGET` seconds in interpreted runs, then the kernel compiles and every
# later call uses it (the ski-rental rule: rent until the rent paid is worth buying).
# The budget is below the compile's cost on purpose: a compile is paid once per
# installation (numba's disk cache keeps it for every later process), interpreted time in
# every process that stays under the budget. With 2 s, a process never pays more than 2 s
# of interpreted solves over compiling at once, and a loop of single tables reaches the
# compiled kernel after 2 s (80 to 1,600 tables). The compiled kernel is used at once when
# it is already compiled in this process (a batch compiled it) or numba's cache holds it
# (loading costs about 0.3 s). Batches always run compiled.
INTERPRETED_BUDGET = 2.0  # seconds of interpreted solves per process, all tiered kernels
interpreted_seconds = 0.0
_LOCK = threading.Lock()


def cache_is_warm(kernel: Any) -> bool:
    """Whether numba's disk cache holds a fresh compiled copy of ``kernel`` (a dispatcher).

    Read from numba's private cache index (version and source stamp checked, as numba
    does before loading). Anything unexpected there (another numba, caching off, an
    unreadable index) counts as cold: the interpreted kernel gives the same answers.
    """
    try:
        return bool(kernel._cache._cache_file._load_index())
    except Exception:  # numba internals: any failure means "assume cold"
        return False


def interpreted_copy(kernel: Any, helpers: dict[str, Any]) -> Callable[..., None]:
    """``kernel``'s Python function, calling the Python functions of ``helpers``.

    Helpers compiled without a CPython entry point (``_INNER`` in the solver modules)
    cannot be called from Python, so the kernel's own Python function, which calls their
    dispatchers, cannot run with the JIT on: its copy sees the helpers' Python functions
    under the same global names.
    """
    py = kernel.py_func
    scope = {**py.__globals__, **{name: h.py_func for name, h in helpers.items()}}
    return types.FunctionType(py.__code__, scope, py.__name__, py.__defaults__, py.__closure__)


class Tiered:
    """A compiled kernel that runs interpreted until compiling it is worth it (see above)."""

    def __init__(self, kernel: Any, helpers: dict[str, Any]) -> None:
        self.kernel = kernel
        self._helpers = helpers
        self._python: Callable[..., None] | None = None
        # Without the JIT (NUMBA_DISABLE_JIT=1) the kernel is its Python function already.
        self.compiled = not hasattr(kernel, "py_func")
        self._warm: bool | None = None

    def _interpreted(self) -> Callable[..., None] | None:
        """The interpreted kernel to run now, or None for the compiled one."""
        if self.compiled:
            return None
        with _LOCK:
            if not self.compiled:
                if self._warm is None:
                    self._warm = cache_is_warm(self.kernel)
                if (
                    self.kernel.signatures
                    or self._warm
                    or interpreted_seconds >= INTERPRETED_BUDGET
                ):
                    self.compiled = True
                elif self._python is None:
                    self._python = interpreted_copy(self.kernel, self._helpers)
            return None if self.compiled else self._python

    def run(self, *args: Any) -> None:
        """Run the kernel on ``args``: compiled, or interpreted and its time counted."""
        global interpreted_seconds
        python = self._interpreted()
        if python is None:
            self.kernel(*args)
            return
        start = time.perf_counter()
        python(*args)
        elapsed = time.perf_counter() - start
        with _LOCK:
            interpreted_seconds += elapsed
