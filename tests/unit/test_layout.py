"""The layout docs/architecture.md describes, held against the code: the import contract of
pyproject.toml (import-linter), module and function sizes, and a docstring on every module."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mta", "control", "queue_store", "config")
MAX_MODULE_LINES = 399
MAX_FUNCTION_LINES = 59
# Alembic revisions are the schema's history: written once, never reshaped afterwards.
FROZEN = ROOT / "mta" / "db" / "migrations" / "versions"


def lint_imports(directory: Path) -> subprocess.CompletedProcess[str]:
    command = "from importlinter.cli import lint_imports_command; lint_imports_command()"
    env = {**os.environ, "PYTHONPATH": str(directory)}
    return subprocess.run(
        [sys.executable, "-c", command, "--no-cache"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def sources() -> list[Path]:
    found = (path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))
    return sorted(path for path in found if FROZEN not in path.parents)


def test_every_import_follows_the_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contract_refuses_an_import_that_points_up(tmp_path: Path) -> None:
    """The same contracts over a skeleton of the same packages, where the shared core types
    import the process layer and the HTTP adapter reaches into a webhooks module: the check
    must fail and name both imports."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    names = {m for c in config["contracts"] for layer in c.get("layers", []) for m in _split(layer)}
    names |= {m for c in config["contracts"] for m in c.get("forbidden_modules", [])}
    names |= {m for c in config["contracts"] for m in c.get("source_modules", [])}
    for name in names | set(config["root_packages"]):
        package = tmp_path.joinpath(*name.split("."))
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").touch()
    (tmp_path / "mta" / "core" / "upward.py").write_text("import mta.server\n")
    (tmp_path / "control" / "inside.py").write_text("import mta.webhooks.sender\n")
    (tmp_path / "pyproject.toml").write_text(_toml_section(config))
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "mta.core.upward -> mta.server" in result.stdout
    assert "control.inside -> mta.webhooks.sender" in result.stdout  # past the public face


def _split(layer: str) -> list[str]:
    return [name.strip() for name in layer.replace(":", "|").split("|")]


def _toml_section(config: dict[str, object]) -> str:
    """The [tool.importlinter] table written back (strings, lists and booleans are enough)."""

    def value(item: object) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, list):
            return "[" + ", ".join(value(x) for x in item) + "]"
        return '"' + str(item) + '"'

    lines = ["[tool.importlinter]"]
    lines += [f"{k} = {value(v)}" for k, v in config.items() if k != "contracts"]
    for contract in config["contracts"]:  # type: ignore[attr-defined]
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{k} = {value(v)}" for k, v in contract.items()]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_has_a_docstring_and_stays_small(path: Path) -> None:
    text = path.read_text()
    tree = ast.parse(text)
    if text.strip():
        assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} says nothing of what it owns"
    assert len(text.splitlines()) <= MAX_MODULE_LINES
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, long
