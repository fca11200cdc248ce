"""The import direction of ARCHITECTURE.md: cli -> runtime -> sandbox/projections -> events."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parent.parent / "llmx"

# What each package may import from llmx besides itself.
ALLOWED: dict[str, set[str]] = {
    "events": set(),
    "sandbox": set(),
    "projections": {"events"},
    "runtime": {"events", "projections", "sandbox"},
    "cli": {"events", "projections", "sandbox", "runtime"},
}


def _llmx_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "llmx" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_flow_downward(package: str) -> None:
    files = sorted((PACKAGE_ROOT / package).rglob("*.py"))
    assert files, f"llmx.{package} has no modules"
    offenders = []
    for path in files:
        bad = _llmx_imports(path) - ALLOWED[package] - {package, "__init__"}
        # ``from llmx import __version__`` names the top-level module, not a package.
        bad.discard("__version__")
        if bad:
            offenders.append(f"{path.relative_to(PACKAGE_ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_no_other_top_level_packages() -> None:
    top = PACKAGE_ROOT.parent
    packages = {p.parent.name for p in top.glob("*/__init__.py")}
    assert packages == {"llmx"}
