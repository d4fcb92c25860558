"""Load the Python snippets of the user's tutorial (shared/seed/first-integration.md) in place,
pointed at a test server, so tests run the user's own code."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

TUTORIAL_BASE_URL = "https://scaisend.scailabs.ai"


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def block_defining(blocks: list[str], name: str) -> str:
    for block in blocks:
        tree = ast.parse(block)
        if any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body):
            return block
    raise LookupError(f"no tutorial block defines {name}")


def function_source(block: str, name: str) -> str:
    tree = ast.parse(block)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            source = ast.get_source_segment(block, node)
            assert source is not None
            return source
    raise LookupError(name)


def load_send_helper(path: Path, base_url: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Exec the send-helper block (BASE_URL rewritten), as a module not run as __main__."""
    block = block_defining(python_blocks(path.read_text()), "send_templated")
    assert TUTORIAL_BASE_URL in block
    namespace.setdefault("__name__", "tutorial_send_helper")
    exec(compile(block.replace(TUTORIAL_BASE_URL, base_url), str(path), "exec"), namespace)
    return namespace


def load_verify(path: Path, namespace: dict[str, Any]) -> dict[str, Any]:
    """Exec the tutorial's verify() alone (its FastAPI app needs no running here)."""
    block = block_defining(python_blocks(path.read_text()), "verify")
    exec(
        compile(
            "import hmac, hashlib, time\n" + function_source(block, "verify"), str(path), "exec"
        ),
        namespace,
    )
    return namespace


def query_blocks(path: Path) -> list[str]:
    """The step-5 snippets: the blocks that GET /v3/messages."""
    return [b for b in python_blocks(path.read_text()) if "/v3/messages" in b and "def " not in b]
