"""The README's examples run as written: its Python blocks, and the ``tinyrnn`` command lines
of its bash blocks (from the root of the clone, where their files are). The set-up commands
(pip installs) are what CI itself runs; ``text`` blocks are synopses, not commands."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language):
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _commands():
    for block in _blocks("bash"):
        for line in block.splitlines():
            command = line.split("  #")[0].strip()
            if command.startswith("tinyrnn "):
                yield command, line.partition("#")[2].strip()


def test_the_readme_has_examples_to_run():
    assert _blocks("python") and len(list(_commands())) >= 3


@pytest.mark.parametrize("block", _blocks("python"), ids=lambda b: b.splitlines()[0][:40])
def test_python_blocks_run(block, tmp_path):
    done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("command, comment", list(_commands()), ids=lambda c: str(c)[:50])
def test_command_lines_run(command, comment):
    argv = shlex.split(command)
    done = subprocess.run([sys.executable, "-m", "tinyrnn", *argv[1:]], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    promised = re.search(r"([A-Za-z ]+): ([0-9.]+)", comment)
    if promised:  # e.g. "Test MSE: 7924.635": the printed figure the README quotes
        assert f"{promised.group(1).strip()}: {promised.group(2)}" in done.stdout, done.stdout
