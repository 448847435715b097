"""`make run` for a person trying it: the commands it prints work against it; pip stays quiet."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import dev


@pytest.mark.slow  # a new process loads the whole app
def test_printed_cli_lines_reach_the_instance_make_run_starts(tmp_path: Path):
    lines = dev.cli_lines()
    exports = dict(pair.split("=", 1) for line in lines if line.startswith("export ") for pair in shlex.split(line)[1:])
    # The same dev mode and LINE endpoint as the processes make run starts.
    assert exports == {"MADOGUCHI_DEV": "1", "LINE_API_BASE_URL": f"http://127.0.0.1:{dev.SIM_PORT}"}
    # Run them as printed (the venv activation included) with a throwaway database.
    ask = next(line for line in lines if "faq ask" in line)
    script = " && ".join([*(line for line in lines if not line.startswith("flask")), ask])
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.db'}",
        "MADOGUCHI_SEMANTIC": "0",
    }
    # `. .venv/bin/activate` is relative to the repository: run from there, as the README says.
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"decision = \w+", result.stdout)
    assert "sodai" in result.stdout or "gomi" in result.stdout


def test_make_installs_quietly():
    makefile = (ROOT / "Makefile").read_text()
    pip = re.search(r"^PIP\s*:=\s*(.+)$", makefile, re.M).group(1)
    assert "-qq" in pip.split()
    assert not re.search(r"\$\(PIP\) install .*-q\b", makefile)  # one quiet setting, in PIP
    venv_pip = ROOT / ".venv" / "bin" / "pip"
    if not venv_pip.exists():
        pytest.skip("no .venv")
    # The exact flags, on a no-op install: nothing at all is printed (warnings included).
    args = [str(venv_pip), *pip.split()[1:], "install", "--dry-run", "--no-deps", "--upgrade", "pip"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
