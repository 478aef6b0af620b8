"""The README's set-up: its first command works as root without sudo and as a user through sudo."""
import re
import shlex
import subprocess
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
FIRST_BLOCK = re.search(r"```bash\n(.*?)```", README, re.S).group(1)


def _stub(bin_dir: Path, name: str, body: str) -> None:
    (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
    (bin_dir / name).chmod(0o755)


@pytest.mark.parametrize("uid, with_sudo", [("0", False), ("0", True), ("1000", True)])
def test_install_line_runs_apt_get_directly_as_root_and_through_sudo_otherwise(tmp_path, uid, with_sudo):
    apt_lines = [line for line in FIRST_BLOCK.splitlines() if "apt-get" in line or line.startswith("SUDO=")]
    assert len(apt_lines) == 2 and "dataset-fashion-mnist" in apt_lines[1]
    bin_dir, log = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    _stub(bin_dir, "id", f'echo {uid}')
    _stub(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}')
    if with_sudo:
        _stub(bin_dir, "sudo", f'echo "sudo $1" >> {log}; "$@"')
    subprocess.run(["/bin/sh", "-ec", "\n".join(apt_lines)], env={"PATH": str(bin_dir)}, check=True)
    calls = log.read_text().splitlines()
    if uid == "0":
        assert calls == ["apt-get update", "apt-get install -y dataset-fashion-mnist python3-venv"]
    else:
        assert calls == ["sudo apt-get", "apt-get update", "sudo apt-get",
                         "apt-get install -y dataset-fashion-mnist python3-venv"]


def test_readme_says_how_to_get_a_cpu_only_torch():
    assert "pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu" in README
    assert "not what CI does" in README


def test_every_sweep_and_config_example_plans_as_written(cli, tmp_path, monkeypatch):
    """The examples, with the venv active: each sweep (and train) plans with --dry-run, each config composes.
    Left out: a cluster's launcher, the README's example experiment file, and two plans of 6 and 10 s (a list
    value composes each job in full; the until-resolved preview), checked by hand."""
    assert "activate the\nvenv first with `. .venv/bin/activate`" in README  # said once, before the bare commands
    monkeypatch.setenv("ABLATE_RESULTS", str(tmp_path / "runs"))
    examples = re.findall(r"`ablate ((?:sweep|config|train) [^`]*)`", README)
    assert len(examples) >= 8
    for example in examples:
        words = shlex.split(example)
        if {"--launcher", "experiment=my_study", "--until-resolved", "eval.resolutions=[42,56]"} & set(words):
            continue
        args = words if words[0] == "config" else ["sweep", *words[1:], "--dry-run"]
        result = cli(*args)
        assert result.exit_code == 0, (example, result.output)
