"""`import ablate` registers our timm names whichever of ablate and timm comes first, and the CLI's
listing commands never import torch (they must answer in well under a second)."""
import subprocess
import sys

import pytest

CREATE = "m = timm.create_model('deit_pico_patch4_28'); assert type(m).__name__ == 'RPEVisionTransformer'"


def _python(code: str) -> None:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("order", ["import ablate, timm", "import timm, ablate", "import ablate.models.vit, timm"])
def test_names_are_registered_in_either_import_order(order):
    _python(f"{order}; {CREATE}")


def test_import_ablate_and_cli_help_do_not_import_torch():
    _python("import sys, ablate, ablate.cli; assert 'torch' not in sys.modules and 'timm' not in sys.modules; "
            "from typer.testing import CliRunner; "
            "assert CliRunner().invoke(ablate.cli.app, ['--help']).exit_code == 0; "
            "assert 'torch' not in sys.modules")


HEAVY = ("torch", "timm", "scipy", "matplotlib", "pandas")
LISTING = (*HEAVY, "hydra")  # and for commands that compose nothing


def _loaded_by(args: list[str]) -> tuple[int, set[str]]:
    """The exit code of `ablate ARGS` in a fresh interpreter, and which top-level packages it imported."""
    code = ("import runpy, sys\n"
            f"sys.argv, code = ['ablate', *{args!r}], 0\n"
            "try:\n    runpy.run_module('ablate.cli', run_name='__main__')\n"
            "except SystemExit as e:\n    code = e.code\n"
            "print(code or 0, *sorted({m.split('.')[0] for m in sys.modules}))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    exit_code, *modules = result.stdout.strip().splitlines()[-1].split()
    return int(exit_code), set(modules)


def test_commands_that_should_be_instant_import_nothing_heavy(tmp_path):
    from ablate.bench.commands import write_runs

    done = tmp_path / "done"
    write_runs(done, [])  # every run of the default sweep, finished
    cases = [(["--help"], 0, LISTING), (["--version"], 0, LISTING), (["swep"], 2, LISTING),
             (["ls", "--results-dir", str(done)], 0, LISTING),
             (["sweep", "rpe=irpe_kk", "--results-dir", str(tmp_path / "new")], 2, HEAVY),
             (["sweep", "--dry-run", "--results-dir", str(done)], 0, HEAVY),
             (["sweep", "--results-dir", str(done)], 0, HEAVY), (["config"], 0, HEAVY),
             (["report", "--results-dir", str(done)], 0, ("torch", "timm", "matplotlib"))]
    for args, expected, banned in cases:
        code, modules = _loaded_by(args)
        assert (code, sorted(modules & set(banned))) == (expected, []), args
