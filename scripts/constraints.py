"""Write ``constraints.txt``: the exact version of every distribution that Forewarn and all its extras pull in.

Run by ``make constraints`` with the venv's Python after the full set is installed. Only what the requirements
reach (pyproject.toml's dependencies and every extra, through each installed distribution's own requirements) is
written, so a package installed by hand into the venv never lands in the file. Local version labels are left out
(``torch==2.13.0+cpu`` is written ``torch==2.13.0``, which the CPU wheel satisfies).

    .venv/bin/python scripts/constraints.py [constraints.txt]
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HEADER = """\
# Exact versions that `make` installs (pip -c constraints.txt), for the core and every extra.
# Made by `make constraints` (scripts/constraints.py) from the full venv: change the ranges in pyproject.toml,
# not this file, then run `make constraints` again (`PIP_UPGRADE=1 make constraints` moves every pin up).
"""


def _wanted(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    env = default_environment()
    return any(req.marker.evaluate({**env, "extra": extra}) for extra in (extras or {""}))


def reachable(roots: list[str]) -> dict[str, str]:
    """``{name: version}`` of the installed distributions that ``roots`` (requirement strings) reach."""
    pins: dict[str, str] = {}
    todo: list[tuple[Requirement, set[str]]] = [(Requirement(root), set()) for root in roots]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, parent_extras = todo.pop()
        if not _wanted(req, parent_extras):
            continue
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(req.name)
        pins[dist.metadata["Name"]] = dist.version.split("+")[0]
        todo += [(Requirement(r), set(req.extras)) for r in dist.requires or ()]
    return pins


def main(out: str = "constraints.txt") -> None:
    project = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    pins = reachable(project["dependencies"] + [req for reqs in extras.values() for req in reqs])
    lines = [f"{name}=={version}" for name, version in sorted(pins.items(), key=lambda kv: kv[0].lower())]
    Path(out).write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    print(f"{out}: {len(lines)} pins ({', '.join(sorted(extras))} and the core)")


if __name__ == "__main__":
    main(*sys.argv[1:])
