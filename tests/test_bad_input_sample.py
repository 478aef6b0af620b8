"""The bad inputs that once fell short (a traceback, a failed run directory, four lines of usage) and a wider
sample tried as a new user would: each is one line on stderr naming the problem and the fix, exit code 2, and
nothing written. Placeholders: {R} results with one completed run, {E} an empty results directory, {N} a path
that does not exist, {F} a file of garbage, {D} an existing folder."""
import shutil
from pathlib import Path

import pytest
from conftest import FAST, tree

from ablate.results.records import new_record
from ablate.results.rundir import RunDir
from ablate.sweep.plan import plan_runs

ONE = ["sweep", *FAST, "rpe=none"]

FELL_SHORT = {  # the cases: what each printed before
    "data=folder without data.root (TypeError, 121 lines)": ([*ONE, "data=folder"], "data=folder needs data.root"),
    "data=hf without data.root (TypeError)": ([*ONE, "data=hf"], "data=hf needs data.root"),
    "eval.interpolation=bogus (failed run)": ([*ONE, "eval.interpolation=bogus"],
                                              "eval.interpolation='bogus': expected one of bicubic"),
    "train.randaug=bogus (AssertionError in the run)": ([*ONE, "train.randaug=bogus"],
                                                        "train.randaug='bogus' is not a RandAugment string"),
    "runtime.device=cuda without CUDA (72 lines)": ([*ONE, "runtime.device=cuda"],
                                                    "runtime.device=cuda but this machine has no CUDA GPU"),
    "runtime.device=tpu (26-82 lines)": ([*ONE, "runtime.device=tpu"],
                                         "runtime.device='tpu': expected auto, cpu, cuda or cuda:N"),
    "name of 300 characters (OSError, 196 lines)": ([*ONE, "name=" + "x" * 300], "is 300 bytes long"),
    "name of 300 characters, ablate config (accepted)": (["config", "name=" + "x" * 300], "is 300 bytes long"),
    "sweep --bogus (4 lines of usage)": (["sweep", "--bogus"], "no such option --bogus (see ablate sweep --help)"),
    "migrate on a missing folder": (["migrate", "--results-dir", "{N}"], "no results directory"),
}

SAMPLE = {  # tried afresh: typos, wrong types, odd values, bad paths, report options, conflicting flags
    "typo of a group in a key": ([*ONE, "trian.epochs=5"], "unknown key trian.epochs (did you mean train.epochs?)"),
    "typo of a key": ([*ONE, "train.epoch=5"], "unknown key train.epoch (did you mean train.epochs?)"),
    "typo of a group": ([*ONE, "modle=deit_tiny"], "unknown key modle (did you mean model?)"),
    "typo of a group option": ([*ONE, "rpe=irpe-k"], "unknown option rpe=irpe-k (did you mean rpe=irpe_k?)"),
    "typo of an experiment": ([*ONE, "experiment=fashion"], "(did you mean experiment=fashion_rpe?)"),
    "prefix of two encodings": ([*ONE, "pe=rope"], "(did you mean pe=rope_axial or pe=rope_mixed?)"),
    "the append Hydra advises for a typo": ([*ONE, "+trian.epochs=5"], "it was added (+trian.epochs=...) but nothing"),
    "an added key nothing reads": ([*ONE, "+foo=1"], "unknown key foo"),
    "float for an integer": ([*ONE, "train.epochs=3.5"], "could not be converted to Integer"),
    "word for a seed": ([*ONE, "seed=abc"], "seed=abc"),
    "negative learning rate": ([*ONE, "train.base_lr=-0.1"], "train.base_lr=-0.1 is out of range"),
    "infinite learning rate": ([*ONE, "train.base_lr=inf"], "train.base_lr=inf is out of range"),
    "NaN flip probability": ([*ONE, "train.hflip=nan"], "train.hflip=nan is out of range"),
    "batch larger than the training set": ([*ONE, "train.batch_size=512"],
                                           "train.batch_size=512 is larger than the 256 training images"),
    "device gpu": ([*ONE, "runtime.device=gpu"], "runtime.device='gpu': expected auto, cpu, cuda or cuda:N"),
    "device cuda:0 without CUDA": ([*ONE, "runtime.device=cuda:0"], "runtime.device=cuda:0 but this machine"),
    "interpolation cubic": ([*ONE, "eval.interpolation=cubic"], "(did you mean bicubic?)"),
    "RandAugment with an unknown section": ([*ONE, "train.randaug=rand-m9-x5"], "Unknown RandAugment config section"),
    "RPE mode that does not exist": ([*ONE, "rpe=irpe_k", "rpe.mode=context"], "invalid RPE mode='context'"),
    "cifar10 without data.root": ([*ONE, "data=cifar10"], "data=cifar10 needs data.root"),
    "imagenet without data.root": ([*ONE, "data=imagenet"], "data=folder needs data.root"),
    "name going up": ([*ONE, "name=../x"], "name takes one plain directory name"),
    "name with a space": ([*ONE, "name=my study"], "name takes one plain directory name"),
    "name swept": ([*ONE, "name=a,b"], "name takes one plain directory name, not a sweep"),
    "word for -j": ([*ONE, "-j", "abc"], "invalid value for '-j' / '--jobs'"),
    "launcher typo": ([*ONE, "--launcher", "slurmm"], "unknown launcher 'slurmm' (did you mean slurm?)"),
    "--dryrun": ([*ONE, "--dryrun"], "no such option --dryrun (did you mean --dry-run?)"),
    "--result-dir": ([*ONE, "--result-dir", "{E}"], "no such option --result-dir (did you mean --results-dir?)"),
    "override with no key": ([*ONE, "=5"], "=5: an override needs a key"),
    "a space for the =": ([*ONE, "train.epochs", "5"], "override 'train.epochs' has no =: write KEY=VALUE"),
    "command typo": (["swep"], "no such command 'swep' (did you mean sweep?)"),
    "report format typo": (["report", "--format", "htm", "--results-dir", "{R}"], "(did you mean html?)"),
    "report --by without a value": (["report", "--by"], "option '--by' requires an argument"),
    "report --output is a folder": (["report", "--output", "{D}", "--results-dir", "{R}"], "is a folder"),
    "report --output under a file": (["report", "--output", "{F}/x.md", "--results-dir", "{R}"],
                                     "is not a directory"),
    "ls on a missing folder": (["ls", "--results-dir", "{N}"], "no results directory"),
    "ls unknown experiment": (["ls", "--experiment", "nope", "--results-dir", "{R}"], "no experiment 'nope'"),
    "eval without a checkpoint": (["eval"], "missing argument 'checkpoint' (see ablate eval --help)"),
    "eval on cuda without CUDA": (["eval", "{F}", *FAST, "runtime.device=cuda"], "but this machine has no CUDA"),
    "bench on a device that does not exist": (["bench", "--device", "tpu"], "--device='tpu': expected auto, cpu"),
}


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, Path]:
    """The placeholders' paths; {R} holds one completed run's record (made, not trained: reading is what is asked)."""
    root = tmp_path_factory.mktemp("places")
    job = plan_runs(FAST, root / "R", sweep=False)[0]
    job.run.path.mkdir(parents=True)
    job.run.write_record(new_record(job.resolved, job.run.name, FAST, "completed", None,
                                    {"top1": 50.0, "top5": 90.0, "loss": 1.0, "epochs": 2}))
    (root / "F").write_bytes(b"\x80 not a checkpoint")
    (root / "D").mkdir()
    return {"R": root / "R", "E": root / "E", "N": root / "N", "F": root / "F", "D": root / "D"}


@pytest.mark.parametrize("case", [*FELL_SHORT, *SAMPLE])
def test_one_line_and_nothing_written(cli, places, case, monkeypatch):
    argv, needle = {**FELL_SHORT, **SAMPLE}[case]
    args = []
    for arg in argv:
        for name, path in places.items():
            arg = arg.replace(f"{{{name}}}", str(path))
        args.append(arg)
    if args[0] in ("sweep", "config") and "--results-dir" not in args and "--result-dir" not in args:
        args += ["--results-dir", str(places["E"])]
    monkeypatch.chdir(places["D"])
    root = places["R"].parent
    before = tree(root)
    result = cli(*args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert needle in lines[0]
    assert tree(root) == before


def test_report_output_into_a_missing_folder_makes_it_and_says_so(cli, places, tmp_path):
    output = tmp_path / "new" / "folder" / "table.md"
    result = cli("report", "--output", str(output), results=places["R"])
    assert result.exit_code == 0 and output.read_text().startswith("|")
    assert result.stderr.splitlines()[-1] == f"wrote {output} (md, {output.stat().st_size} bytes)"


def test_migrate_on_an_empty_folder_says_there_is_nothing_to_migrate(cli, tmp_path):
    result = cli("migrate", results=tmp_path)
    assert result.exit_code == 0 and result.stdout.strip() == f"no runs in {tmp_path}: nothing to migrate"


def test_unfinished_runs_are_counted_in_the_report_note(cli, places, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(places["R"], results)
    [run] = [RunDir(p) for p in results.glob("*/*")]
    for i in range(2):  # two runs started (config and metrics written) that have no record yet
        (run.path.parent / f"unfinished{i}").mkdir()
        RunDir(run.path.parent / f"unfinished{i}").append_metrics({"epoch": 0, "top1": 1.0})
    result = cli("report", results=results)
    assert result.exit_code == 0
    assert "note: 2 unfinished runs (no record yet: running, stopped or killed) not in the table" in result.stdout
