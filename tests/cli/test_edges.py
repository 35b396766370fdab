"""The edges (CLI, HTTP, SMTP) call the service layer: none reaches into the store's modules, and the CLI's
modules depend on each other one way only (main -> commands -> common)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import octogate
import octogate.cli

SRC = Path(octogate.__file__).parent
STORE_INTERNALS = {f"octogate.store.{name}" for name in ("queries", "outbox", "incoming", "delivery", "inbox")}
EDGES = sorted(
    [*(SRC / "cli").glob("*.py"), *(SRC / "http").glob("*.py"), SRC / "smtp" / "handler.py",
     SRC / "smtp" / "server.py"]
)  # fmt: skip


def imported(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function (`from a import b` counts a and a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_every_cli_module_imports() -> None:
    modules = [info.name for info in pkgutil.iter_modules(octogate.cli.__path__, "octogate.cli.")]
    assert {"octogate.cli.main", "octogate.cli.common", "octogate.cli.accounts"} <= set(modules)
    for name in modules:
        if name != "octogate.cli.__main__":  # running it runs the command line
            importlib.import_module(name)


def test_no_edge_imports_the_store_modules() -> None:
    assert len(EDGES) > 8
    offenders = {
        str(path.relative_to(SRC)): sorted(imported(path) & STORE_INTERNALS)
        for path in EDGES
        if imported(path) & STORE_INTERNALS
    }
    assert offenders == {}


def test_cli_modules_import_only_the_store_itself_from_the_store() -> None:
    for path in (SRC / "cli").glob("*.py"):
        store = {name for name in imported(path) if name.startswith("octogate.store")}
        opening = {name for name in store if name.startswith(("octogate.store.store", "octogate.store.db"))}
        assert store == opening, path.name


def test_cli_dependencies_go_one_way() -> None:
    """No command module imports main (the old cycle went cli -> callbacks.cli -> cli), and no domain package
    imports the CLI."""
    for path in (SRC / "cli").glob("*.py"):
        if path.stem not in {"main", "__init__", "__main__"}:
            assert not {"octogate.cli", "octogate.cli.main"} & imported(path), path.name
    for path in SRC.rglob("*.py"):
        if path.parent.name != "cli":
            assert not any(name.split(".")[:2] == ["octogate", "cli"] for name in imported(path)), path
