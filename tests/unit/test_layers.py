"""The seams the layout promises, checked on the source: the gateway knows provider kinds only
through the registry, and adapters know nothing of the gateway or of HTTP servers."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KIND_PACKAGES = ("providers.dashscope", "providers.openai_compat")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _modules(folder: str) -> list[Path]:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert len(files) > 10
    return files


def test_the_gateway_imports_no_provider_kind() -> None:
    for path in _modules("gateway"):
        for name in _imports(path):
            assert not name.startswith(KIND_PACKAGES), f"{path.relative_to(ROOT)} imports {name}"


def test_providers_import_neither_the_gateway_nor_a_server_framework() -> None:
    for path in _modules("providers"):
        if "emulator" in path.parts:
            continue  # the emulator is a server of its own
        for name in _imports(path):
            assert not name.startswith(("gateway", "litestar", "uvicorn")), f"{path.relative_to(ROOT)} imports {name}"
