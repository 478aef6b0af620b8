"""Benchmark: how long planning takes. Run: python -m ablate.bench.plan

Each case runs `ablate sweep --dry-run` in a fresh interpreter (start-up, composition, validation,
hashing, the finished-run check, printing the plan) and reports its wall time and whether torch was
imported; planning must not load the engine.
"""
import argparse
import subprocess
import sys
import tempfile
import time

CASES = {
    "default sweep (6 runs)": [],
    "the issue's grid (480 runs)": ["rpe=irpe_k", "rpe.method=euc,quant,cross,product", "rpe.mode=bias,contextual",
                                    "rpe.rpe_on=k,qk", "seed=range(0,10)", "train.epochs=1,2,3"],
    "10,000 runs": ["rpe=irpe_k", "rpe.method=euc,quant,cross,product", "rpe.mode=bias,contextual",
                    "rpe.rpe_on=k,qk", "seed=range(0,125)", "train.epochs=1,2,3,4,5"],
}
PROGRAM = """
import sys, time
start = time.perf_counter()
from typer.testing import CliRunner
import ablate.cli
result = CliRunner().invoke(ablate.cli.app, ["sweep", "--dry-run", "--results-dir", sys.argv[1], *sys.argv[2:]])
assert result.exit_code == 0, result.output
print(result.output.splitlines()[0])
print(f"in-process {time.perf_counter() - start:.2f}", "torch" in sys.modules)
"""


def measure(overrides: list[str], results: str) -> tuple[float, float, bool, str]:
    """(wall seconds with interpreter start-up, seconds inside, torch imported, the plan's first line)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PROGRAM, results, *overrides], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    wall = time.perf_counter() - start
    inside, torch = out[-1].split()[1], out[-1].split()[2] == "True"
    return wall, float(inside), torch, out[0]


def main() -> None:
    """Time every case (best of --repeat) and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat
    print(f"{'case':<30} {'wall s':>7} {'inside s':>9} {'torch':>6}  plan")
    with tempfile.TemporaryDirectory() as results:
        for name, overrides in CASES.items():
            best = min((measure(overrides, results) for _ in range(repeat)), key=lambda m: m[0])
            wall, inside, torch, first = best
            print(f"{name:<30} {wall:>7.2f} {inside:>9.2f} {'yes' if torch else 'no':>6}  {first}")


if __name__ == "__main__":
    main()
