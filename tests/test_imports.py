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
