"""The store speaks SQL only: no module under octogate/store imports the domain packages (incoming, dispatch,
callbacks), read from the modules' own import statements."""

from __future__ import annotations

import ast
from pathlib import Path

import octogate.store

DOMAIN = ("octogate.incoming", "octogate.dispatch", "octogate.callbacks")


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else f"octogate.store.{node.module}"
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_no_store_module_imports_incoming_dispatch_or_callbacks() -> None:
    folder = Path(octogate.store.__file__).parent
    modules = sorted(folder.rglob("*.py"))
    assert len(modules) > 5
    offending = {
        f"{path.relative_to(folder)}: {name}"
        for path in modules
        for name in imported_modules(path)
        if any(name == domain or name.startswith(f"{domain}.") for domain in DOMAIN)
    }
    assert offending == set()


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from octogate.incoming import ids\nimport octogate.dispatch.wire\n", encoding="utf-8")
    assert {"octogate.incoming", "octogate.dispatch.wire"} <= imported_modules(module)
