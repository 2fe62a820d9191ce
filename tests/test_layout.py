"""The package tree is the pipeline: a module imports only from its own stage
or the stages before it (the order in eie/__init__.py's docstring)."""

from __future__ import annotations

import ast
from pathlib import Path

import eie

PKG = Path(eie.__file__).parent
# Rank of each top-level part of the package; equal ranks may import each other.
RANK = {
    "__init__": 0,
    "errors": 0,
    "safeio": 0,
    "compression": 1,
    "train": 1,
    "format": 2,
    "arithmetic": 3,
    "performance": 4,
    "hardware": 5,
    "kernel": 6,
    "board": 7,
    "demo": 8,
    "demo_lstm": 8,
    "api": 8,
    "frontend": 1,
    "cli": 9,
    "__main__": 9,
}


def _part(module: str) -> str:
    parts = module.split(".")
    # `from eie import __version__` names an attribute of the root package.
    return parts[1] if len(parts) > 1 and parts[1] in RANK else "__init__"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "eie":
                found.update(f"eie.{a.name}" for a in node.names)
            elif node.module.startswith("eie."):
                found.add(node.module)
            assert node.level == 0
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"{path}: relative import; use absolute eie.* imports")
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("eie."))
    return found


def test_every_module_belongs_to_a_known_stage():
    parts = {p.relative_to(PKG).parts[0].removesuffix(".py") for p in PKG.rglob("*.py")}
    assert parts <= set(RANK), sorted(parts - set(RANK))


def test_no_module_imports_a_later_stage():
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        own = path.relative_to(PKG).parts[0].removesuffix(".py")
        for mod in _imports(path):
            if RANK[_part(mod)] > RANK[own]:
                bad.append(f"{path.relative_to(PKG)} imports {mod}")
    assert not bad, "\n".join(bad)


def test_cli_commands_do_not_import_each_other():
    cli = PKG / "cli"
    bad = [
        f"{p.name} imports {m}"
        for p in sorted(cli.glob("*.py"))
        if p.name != "__init__.py"
        for m in _imports(p)
        if m.startswith("eie.cli.") and m != "eie.cli.output"
    ]
    assert not bad, "\n".join(bad)
