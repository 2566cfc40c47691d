"""constraints.txt (`make lock`) pins exactly what `.[dev]` installs, transitive packages
included, at the versions installed: a dependency added to pyproject.toml without `make
lock` fails here, as does a pin left for a package nothing needs any more."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "neo-alexandria"


def locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;+]+)", line.strip())
            assert match, f"not a plain pin: {line!r}"
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def installed_closure(name: str, extras: frozenset[str]) -> dict[str, str]:
    """Every distribution `name[extras]` needs here, by canonical name, with its version
    (the local label, such as +cpu, dropped)."""
    found: dict[str, set[str]] = {}
    versions: dict[str, str] = {}
    pending = [(name, extras)]
    while pending:
        current, wanted = pending.pop()
        key = canonicalize_name(current)
        if key in found and wanted <= found[key]:
            continue
        found.setdefault(key, set()).update(wanted)
        dist = metadata.distribution(current)
        versions[key] = dist.version.split("+")[0]
        for line in dist.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in wanted or {""}):
                pending.append((requirement.name, frozenset(requirement.extras)))
    versions.pop(canonicalize_name(name))
    return versions


def test_the_lock_is_what_the_dev_install_has() -> None:
    pins, needed = locked(), installed_closure(PROJECT, frozenset({"dev"}))
    assert sorted(set(needed) - set(pins)) == [], "not locked: run `make lock`"
    assert sorted(set(pins) - set(needed)) == [], "locked but not needed: run `make lock`"
    differ = {name: (pins[name], needed[name]) for name in pins if pins[name] != needed[name]}
    assert differ == {}, "(locked, installed): run `make install` or `make lock`"


def test_every_exact_pin_of_pyproject_is_the_locked_version() -> None:
    pins = locked()
    text = (ROOT / "pyproject.toml").read_text()
    for name, version in re.findall(r'"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^"]+)"', text):
        key = canonicalize_name(name)
        if key in pins:  # the bench extra is not locked
            assert pins[key] == version, name
