"""The README's first-result snippet runs as a script and prints what its comments say;
CITATION.cff names the package's version."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import synergy

ROOT = Path(__file__).resolve().parents[1]


def _first_result_snippet() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## A first result", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match is not None, "README.md: no python block under 'A first result'"
    return match.group(1)


def test_readme_snippet_prints_its_comments_as_a_script():
    code = _first_result_snippet()
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.split()
    # The comments' values: I(XOR) = 1 bit, I(X1; Y) = 0 for XOR, S_max(AND) = S_VK(AND) = 0.5
    # bit (Griffith & Koch 2014, Table 1), and one WMS per table of the batch.
    assert len(lines) == 5, run.stdout
    values = [float(v) for v in lines[:4]]
    assert values == pytest.approx([1.0, 0.0, 0.5, 0.5], abs=1e-9)
    assert lines[4] == "(100000,)"


def test_citation_names_the_package_version():
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    match = re.search(r"^version:\s*(\S+)\s*$", cff, flags=re.M)
    assert match is not None, "CITATION.cff has no version line"
    assert match.group(1) == synergy.__version__
