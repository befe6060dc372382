"""The public face: what `import synergy` pulls in and what each namespace exports."""

import subprocess
import sys

import synergy


def test_import_pulls_in_only_numpy_scipy_numba():
    code = (
        "import sys, synergy, synergy.tables, synergy.testing;"
        "heavy = ('torch', 'cvxpy', 'matplotlib', 'hypothesis', 'dit', 'pandas', 'dask',"
        " 'distributed', 'pyarrow', 'tqdm');"
        "bad = [m for m in heavy if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import synergy imported {out.stdout.strip()}"


def test_all_names_exist():
    for name in synergy.__all__:
        assert hasattr(synergy, name), name


def test_version_is_in_one_place():
    from synergy._version import __version__

    assert synergy.__version__ == __version__


def test_package_logger_has_only_a_null_handler():
    import logging

    handlers = logging.getLogger("synergy").handlers
    assert [type(h) for h in handlers] == [logging.NullHandler]


def test_estimators_namespace_imports_torch_only_on_use():
    code = (
        "import sys, synergy.estimators as e;"
        "before = 'torch' in sys.modules;"
        "e.kl_per_dim;"
        "print(before, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_every_namespace_exports_what_its_all_lists():
    import importlib

    for name in [
        "synergy",
        "synergy.tables",
        "synergy.testing",
        "synergy.pid",
        "synergy.estimators",
        "synergy.torch",
    ]:
        module = importlib.import_module(name)
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, f"{name} lists {missing} in __all__ but does not define them"
