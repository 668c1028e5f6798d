"""The README's Quick start runs as written, end to end (at small sizes), `make
example` runs the same commands, and the README's example figures come from
the reports `make example` writes."""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from readme_example import fill  # noqa: E402

# Quick start sizes -> test sizes: the same commands, seconds instead of minutes.
SMALL = {"--n 2000": "--n 60", "--n 600": "--n 48", "--n 300": "--n 24", "--epochs 10": "--epochs 1",
         "--per-op": "--per-op --samples 2", "--verify-qemu 8": "--verify-qemu 2 --qemu-samples 2"}  # fmt: skip


def quickstart() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        command = line.split("  #", 1)[0].strip()
        if command:
            commands.append(" ".join(command.split()))
    return commands


def test_make_example_runs_the_quickstart_commands():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nexample:\n", 1)[1].split("\n\n", 1)[0].replace("\\\n", " ")
    run = [" ".join(line.split("&&", 1)[1].split()) for line in recipe.splitlines() if "cd $(EXAMPLE) &&" in line]
    assert [c.replace("nucleo-l4r5zi", "$(BOARD)") for c in quickstart()] == run
    assert "scripts/readme_example.py $(EXAMPLE) README.md" in recipe


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None or shutil.which("espeak-ng") is None,
                    reason="the Quick start trains with TensorFlow on espeak-ng clips (make install)")  # fmt: skip
def test_quickstart_runs_as_written(tmp_path):
    for command in quickstart():
        for big, small in SMALL.items():
            command = command.replace(big, small)
        args = shlex.split(command)
        assert args[0] == "tinyexit"
        proc = subprocess.run([sys.executable, "-m", "tinyexit", *args[1:]], cwd=tmp_path, capture_output=True,
                              text=True)  # fmt: skip
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    policy = (tmp_path / "calib.txt").read_text().strip()
    assert re.fullmatch(r"none|confidence:[0-9.e-]+", policy)
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert policy in [p["policy"] for p in report["policies"]]
    assert (tmp_path / "kws" / "kws.h").is_file() and (tmp_path / "fw" / "lib").is_dir()


def test_readme_tables_come_from_the_reports(tmp_path):
    (tmp_path / "report").mkdir()
    (tmp_path / "calib.txt").write_text("confidence:0.765\n")
    report = {"meta": {"exits": ["exit0", "final"], "samples": 300, "data": "stream.npz", "board": "nucleo-l4r5zi"},
              "policies": [{"policy": "none", "accuracy": 0.883, "agreement": 1.0, "exit_shares": [0.0, 1.0],
                            "mean_instructions": 4960863.0, "mean_time_ms": 65.2, "saving_vs_none": 0.0}]}  # fmt: skip
    (tmp_path / "report" / "report.json").write_text(json.dumps(report))
    readme = "a\n<!-- example:calib -->\nold\n<!-- /example:calib -->\nb\n<!-- example:report -->\nold\n<!-- /example:report -->\n"
    text, missing = fill(readme, tmp_path)
    assert missing == []
    assert "<!-- example:calib -->\n`confidence:0.765`\n<!-- /example:calib -->" in text
    assert "| `none` | 88.3% | 100.0% | 0% / 100% | 4,960,863 | 65.20 | 0.0% |" in text
    text, missing = fill(readme.replace("report", "report-ecg"), tmp_path)
    assert missing == [str(tmp_path / "report-ecg" / "report.json")] and "old" in text
