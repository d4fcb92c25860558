"""Run a document's code blocks as a reader would, in order, in one folder: the fence's info
string says what a block is (see Reader), and only the server's address may be rewritten.

The fences: ```sh runs in bash (`set -euo pipefail`); the variables it exports reach the
blocks after it, as in the reader's terminal. ```python runs with this interpreter, reading
those variables from os.environ. ```python NAME.py is a file the reader saves as NAME.py
(later blocks run or import it). Any other fence (```text for output, ```console for a
command that installs or starts things, such as `make run`) is shown and not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

BLOCK_SECONDS = 120  # every wait a block makes is bounded by itself; this bounds the block
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Block:
    info: str  # the fence's info string: "sh", "python", "python send_helper.py", "text"
    code: str
    line: int  # where the block starts in its document, for failure messages

    @property
    def kind(self) -> str:
        """One of sh, python, file (a python block saved as a file) or shown."""
        words = self.info.split()
        if words == ["sh"]:
            return "sh"
        if words == ["python"]:
            return "python"
        if len(words) == 2 and words[0] == "python" and words[1].endswith(".py"):
            return "file"
        return "shown"


def code_blocks(markdown: str) -> list[Block]:
    return [
        Block(m.group(1).strip(), m.group(2), markdown.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(markdown)
    ]


def section(markdown: str, heading: str) -> str:
    """The text under the level-2 `heading`, up to the next level-2 heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    if match is None:
        raise LookupError(f"no section '## {heading}'")
    return match.group(1)


@dataclass
class Reader:
    """Runs blocks in `workdir` with `env` (updated by each `sh` block's exports), after
    replacing each key of `rewrites` (the address the document names) by its value."""

    workdir: Path
    env: dict[str, str]
    rewrites: Mapping[str, str]
    transcript: list[tuple[Block, str]] = field(default_factory=list)

    def said(self, containing: str = "") -> str:
        """The output of every block run (only of those whose code holds `containing`)."""
        return "\n".join(out for block, out in self.transcript if containing in block.code)

    def run(self, block: Block) -> str:
        code = block.code
        for written, actual in self.rewrites.items():
            code = code.replace(written, actual)
        if block.kind == "file":
            (self.workdir / block.info.split()[1]).write_text(code)
            return ""
        if block.kind == "sh":
            output = self._bash(code, block)
        elif block.kind == "python":
            output = self._completed([sys.executable, "-"], code, block)
        else:
            raise ValueError(f"line {block.line}: a ```{block.info} block is not run")
        self.transcript.append((block, output))
        return output

    def _bash(self, code: str, block: Block) -> str:
        exported = self.workdir / ".exported"
        exported.unlink(missing_ok=True)
        script = f"set -euo pipefail\n{code}\nenv -0 > {str(exported)!r}\n"
        output = self._completed(["bash", "--noprofile", "--norc", "-c", script], None, block)
        self.env = dict(
            item.split("=", 1) for item in exported.read_text().split("\0") if "=" in item
        )
        return output

    def _completed(self, command: list[str], stdin: str | None, block: Block) -> str:
        try:
            done = subprocess.run(
                command,
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=self.workdir,
                env=self.env,
                timeout=BLOCK_SECONDS,
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"block at line {block.line} ran past {BLOCK_SECONDS} s") from exc
        if done.returncode != 0:
            raise AssertionError(
                f"block at line {block.line} exited {done.returncode}:\n{block.code}\n"
                f"--- output ---\n{done.stdout}"
            )
        return done.stdout


def run_blocks(reader: Reader, blocks: list[Block]) -> None:
    """Run the runnable blocks in order, as a reader would."""
    for block in blocks:
        if block.kind != "shown":
            reader.run(block)


def reader_env(config: Path) -> dict[str, str]:
    """This process's environment as a reader's terminal would have it, with the commands
    pointed at the test server's configuration (SCAISEND_CONFIG, which the CLI reads)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCAISEND")}
    env["SCAISEND_CONFIG"] = str(config)
    return env


def venv_scaisend(workdir: Path) -> Path:
    """`.venv/bin/scaisend` in `workdir`, as in a checkout after `make run`: a link to the
    `scaisend` beside this interpreter (the project's venv, wherever it is)."""
    installed = Path(sys.executable).parent / "scaisend"
    link = workdir / ".venv" / "bin" / "scaisend"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(installed)
    return link
