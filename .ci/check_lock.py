"""Fail where requirements.lock and pyproject.toml disagree.

    python .ci/check_lock.py [pyproject.toml] [requirements.lock]

Every requirement of pyproject.toml (its dependencies and its dev extra) must be
pinned in the lock at a version its range admits, and the lock must pin nothing
twice. One line per disagreement; exit status 1 if any. `make lock` writes a lock
that agrees.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(lock_text: str) -> tuple[dict[str, Version], list[str]]:
    found: dict[str, Version] = {}
    twice = []
    for line in lock_text.splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            if name in found:
                twice.append(name)
            found[name] = Version(match.group(2))
    return found, twice


def disagreements(pyproject_text: str, lock_text: str) -> list[str]:
    project = tomllib.loads(pyproject_text)["project"]
    wanted = list(project["dependencies"]) + list(
        project.get("optional-dependencies", {}).get("dev", [])
    )
    found, twice = pins(lock_text)
    problems = [f"{name} is pinned twice in the lock" for name in twice]
    for line in wanted:
        req = Requirement(line)
        if req.marker and not req.marker.evaluate({"extra": "dev"}):
            continue
        name = canonicalize_name(req.name)
        if name not in found:
            problems.append(f"{req} is in pyproject.toml but not pinned in the lock")
        elif not req.specifier.contains(found[name], prereleases=True):
            problems.append(f"the lock pins {name}=={found[name]}, outside pyproject's {req}")
    return problems


def main() -> int:
    pyproject = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "pyproject.toml"
    lock = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "requirements.lock"
    if not lock.exists():
        print(f"{lock} is missing; run `make lock`")
        return 1
    problems = disagreements(pyproject.read_text("utf-8"), lock.read_text("utf-8"))
    for problem in problems:
        print(f"{problem}; run `make lock`")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
