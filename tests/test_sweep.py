"""Sweep expansion (experiment params + command line), planning, dry runs, ls and eval through the CLI."""
import pytest
from conftest import FAST, tree

from ablate.results.rundir import RunDir, run_dirs
from ablate.config.compose import Composer
from ablate.config.errors import ConfigError


def test_default_experiment_sweeps_three_rpe_variants_over_two_seeds():
    with Composer() as composer:
        assert composer.jobs([]) == [[f"rpe={rpe}", f"seed={seed}"] for rpe in ("none", "irpe_k_bias", "irpe_k")
                                     for seed in (0, 1)]
        config = composer.config(["rpe=irpe_k_bias"])
    assert config.name == "fashion_rpe" and config.model.name == "deit_pico_patch4_28"
    assert config.pe.absolute == "none" and (config.data.train_limit, config.train.epochs) == (10000, 3)
    assert (config.rpe.method, config.rpe.mode, config.rpe.rpe_on) == ("product", "bias", "k")


def test_command_line_wins_over_experiment_params_and_grids_multiply():
    with Composer() as composer:
        jobs = composer.jobs(["rpe=none,irpe_k", "seed=0,1,2", "train.epochs=1"])
    assert len(jobs) == 6 and all(job[-1] == "train.epochs=1" for job in jobs)
    assert {tuple(job[:2]) for job in jobs} == {(f"rpe={r}", f"seed={s}") for r in ("none", "irpe_k")
                                                for s in (0, 1, 2)}


def test_sweeping_experiments_is_refused():
    with Composer() as composer, pytest.raises(ConfigError, match="one experiment at a time"):
        composer.jobs(["experiment=fashion_rpe,fashion_rpe"])


def test_dry_run_prints_plan_and_writes_nothing(cli, results):
    result = cli("sweep", *FAST, "rpe=none,irpe_k", "seed=0,1", "--dry-run", results=results)
    assert result.exit_code == 0
    assert "4 runs, 0 done, 4 to do" in result.stdout and result.stdout.count("todo") == 4
    assert tree(results) == []


def test_same_config_spelled_twice_is_one_run(cli, results):
    result = cli("sweep", *FAST, "seed=0,0", "rpe=none", "--dry-run", results=results)
    assert "1 runs, 0 done, 1 to do" in result.stdout


def test_train_ls_eval_and_rerun(cli, results):
    overrides = [*FAST, "rpe=irpe_k"]
    assert cli("train", *overrides, results=results).exit_code == 0
    (directory,) = run_dirs(results)
    record = RunDir(directory).record()

    listing = cli("ls", results=results)
    assert listing.exit_code == 0
    assert directory.name in listing.stdout and "completed" in listing.stdout
    assert f"{record['metrics']['top1']:.2f}" in listing.stdout

    again = cli("train", *overrides, results=results)
    assert again.exit_code == 0 and "already done" in again.stdout

    evaluated = cli("eval", str(directory / "checkpoint.pth"), *overrides)
    assert evaluated.exit_code == 0, evaluated.output
    assert f"top1 {record['metrics']['top1']:.2f}" in evaluated.stdout

    wrong = cli("eval", str(directory / "checkpoint.pth"), *FAST, "rpe=none")
    assert wrong.exit_code == 2
    assert "does not fit the model" in wrong.stderr and "unexpected" in wrong.stderr


def test_eval_on_an_image_folder(cli, tmp_path):
    import timm
    import torch

    from test_data import write_folder
    write_folder(tmp_path / "images")
    model = timm.create_model("deit_micro_patch4_28", in_chans=3, num_classes=2, img_size=28)
    torch.save({"model": model.state_dict()}, tmp_path / "model.pth")
    result = cli("eval", str(tmp_path / "model.pth"), "model=deit_micro", "pe.absolute=learned", "data=folder",
                 f"data.root={tmp_path / 'images'}",
                 "data.num_classes=2", "data.img_size=28", "runtime.workers=0")
    assert result.exit_code == 0, result.output
    assert "top1" in result.stdout and "folder" in result.stdout


def test_live_view_shows_progress_of_running_runs(tmp_path):
    from omegaconf import OmegaConf
    from rich.console import Console

    from ablate.sweep.display import SweepView
    from ablate.sweep.progress import Progress
    from ablate.sweep.plan import Job

    config = OmegaConf.create({"train": {"epochs": 4}})
    long_label = ["rpe=irpe_k", *[f"train.option_{i}=value_{i}" for i in range(12)]]
    jobs = [Job(long_label, config, tmp_path / "run-a", False),
            Job(["rpe=none"], config, tmp_path / "run-b", True)]
    jobs[0].directory.mkdir()
    (jobs[0].directory / "metrics.jsonl").write_text('{"epoch": 0, "top1": 71.25, "loss": 0.9}\n')
    (jobs[0].directory / "progress.json").write_text(
        '{"epoch": 1, "epochs": 4, "step": 30, "steps": 120, "images_per_s": 812.4}')
    progress = Progress(jobs, workers=1)
    progress.start(jobs[0])
    console = Console(record=True, width=80)
    console.print(SweepView(progress))
    text = console.export_text()
    assert "runs 1/2 done, 1 running" in text and "ETA" in text
    assert "rpe=irpe_k" in text and "2/4" in text and "25%" in text and "812" in text and "top1 71.25" in text
    assert max(len(line) for line in text.splitlines()) <= 80  # long overrides are cut, not wrapped
    assert len(text.splitlines()) == 3


def test_ls_shows_an_unfinished_detection_run_by_its_latest_ap(cli, results):
    directory = results / "paper_proxy" / "0123456789ab"
    directory.mkdir(parents=True)
    (directory / "metrics.jsonl").write_text('{"epoch": 0, "AP": 0.5}\n{"epoch": 1, "AP": 12.345}\n')
    listing = cli("ls", results=results)
    assert listing.exit_code == 0
    assert "0123456789ab" in listing.stdout and "incomplete" in listing.stdout and "12.35" in listing.stdout
