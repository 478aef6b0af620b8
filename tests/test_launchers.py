"""Sweeps through Hydra launchers (submitit's local executor, joblib): same identity, skip and resume as
the local launcher, and the records on disk decide each run's outcome, never the launcher's report."""
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import FAST, folder_with_a_corrupt_image

from ablate.engine.runner import execute
from ablate.results.rundir import RunDir, run_dirs
from ablate.sweep.launchers import split_settings
from ablate.sweep.outcome import settle
from ablate.sweep.plan import plan_runs

GRID = ["rpe=none,irpe_k"]


def records(results: Path) -> dict[str, dict]:
    return {d.name: RunDir(d).record() for d in run_dirs(results)}


def test_submitit_local_sweep_resumes_records_and_reruns_nothing(cli, results, tmp_path):
    """One run was interrupted after epoch 1 of 2 (as a preempted Slurm job is); the sweep resumes it.

    Each run is a submitit job of two tasks, so it trains with DDP over two processes (gloo), as a
    Slurm job with tasks_per_node = GPUs does; the other run matches one process's metrics.
    """
    planned = plan_runs([*FAST, *GRID], results)
    interrupted = next(job for job in planned if job.config.rpe.method != "none")

    def stop(row: dict) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(interrupted.config, interrupted.directory, interrupted.overrides, on_epoch=stop)
    assert RunDir(interrupted.directory).record() is None and len(RunDir(interrupted.directory).metrics()) == 1

    tasks = "hydra.launcher.tasks_per_node=2"
    first = cli("sweep", "--launcher", "submitit_local", tasks, *FAST, *GRID, results=results)
    assert first.exit_code == 0, first.output
    assert "2 runs, 0 done, 2 to do" in first.stdout and "2 completed" in first.stdout
    runs = records(results)
    assert set(runs) == {job.directory.name for job in planned}  # the plan's identities, through submitit
    assert {r["status"] for r in runs.values()} == {"completed"}
    assert runs[interrupted.directory.name]["resumed_at_epochs"] == [1]
    assert all(len(RunDir(job.directory).metrics()) == 2 for job in planned)
    logs = sorted(p.name.split("_", 1)[1] for p in (results / ".launcher").glob("*/.submitit/*/*_log.out"))
    assert logs == ["0_log.out", "0_log.out", "1_log.out", "1_log.out"]  # two jobs of two tasks each

    whole = next(job for job in planned if job is not interrupted)
    [alone] = [j for j in plan_runs([*FAST, *GRID], tmp_path / "alone") if j.directory.name == whole.directory.name]
    single = execute(alone.config, alone.directory, alone.overrides)["metrics"]
    double = runs[whole.directory.name]["metrics"]
    assert double["loss"] == pytest.approx(single["loss"], abs=1e-4) and abs(double["top1"] - single["top1"]) < 0.3

    before = {p: p.stat().st_mtime_ns for p in results.rglob("*") if p.is_file()}
    again = cli("sweep", "--launcher", "submitit_local", tasks, *FAST, *GRID, results=results)
    assert again.exit_code == 0 and "2 runs, 2 done, 0 to do" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in results.rglob("*") if p.is_file()} == before


def test_joblib_sweep_records_completed_and_failed_runs(cli, results, tmp_path, monkeypatch):
    """-j 2: two worker processes; a run that raises (a corrupt image in its folder) is recorded as failed."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bad = folder_with_a_corrupt_image(tmp_path / "images")
    grid = [*FAST, "rpe=none", "data=digits,folder", f"data.root={tmp_path / 'images'}", "data.img_size=8",
            "runtime.workers=0"]  # joblib's (loky's) processes cannot start DataLoader workers
    result = cli("sweep", "--launcher", "joblib", "-j", "2", *grid, results=results)
    assert result.exit_code == 1, result.output  # a failed run fails the sweep
    runs = {r["config"]["data"]["name"]: r for r in records(results).values()}
    assert runs["digits"]["status"] == "completed" and runs["digits"]["metrics"]["epochs"] == 2
    assert runs["folder"]["status"] == "failed" and str(bad) in runs["folder"]["error"]
    assert {r["config"]["runtime"]["threads"] for r in runs.values()} == {1}  # set by FAST, kept
    assert {d.name for d in run_dirs(results)} == {job.directory.name for job in plan_runs(grid, results)}


def test_launcher_settings_are_not_run_overrides():
    runs, settings = split_settings(["rpe=irpe_k", "hydra.launcher.partition=gpu", "+hydra.launcher.qos=high"])
    assert runs == ["rpe=irpe_k"] and settings == ["hydra.launcher.partition=gpu", "+hydra.launcher.qos=high"]


def test_bad_launcher_input_is_one_line(cli, results):
    unknown = cli("sweep", "--launcher", "pbs", *FAST, results=results)
    assert unknown.exit_code == 2 and "unknown launcher 'pbs'" in unknown.stderr
    assert "joblib, slurm, submitit_local" in unknown.stderr
    stray = cli("sweep", *FAST, "hydra.launcher.partition=gpu", results=results)
    assert stray.exit_code == 2 and "add --launcher" in stray.stderr
    assert not results.exists()


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """One planned (not run) job in its own results directory."""
    planned = plan_runs([*FAST, "rpe=none"], tmp_path_factory.mktemp("results"), sweep=False)[0]
    planned.directory.mkdir(parents=True)
    return planned


def _fresh(job):
    for name in os.listdir(job.directory):
        os.remove(job.directory / name)
    return {job.directory: job.run.stamp()}


def settled(job, before, said):
    return settle(job.run, job.resolved, job.overrides, said, before[job.directory])


def test_a_job_that_left_no_record_is_recorded_failed(job):
    """A Slurm job may end 'successfully' without the run having written anything (killed, OOM)."""
    before = _fresh(job)
    record = settled(job, before, "completed")
    assert record["status"] == "failed" and "ended without writing a record" in record["error"]
    assert RunDir(job.directory).record() == record


def test_a_written_record_beats_the_launchers_report(job):
    before = _fresh(job)
    job.run.write_record({"status": "completed", "metrics": {"top1": 50.0}})
    assert settled(job, before, "launcher: UncompletedJobError: job 1234 failed")["status"] == "completed"
    job.run.write_record({"status": "failed", "error": "ValueError: bad"})  # this launch's own failure
    assert settled(job, before, "launcher: boom")["error"] == "ValueError: bad"


def test_an_old_failed_record_is_replaced_and_a_running_job_left_alone(job):
    _fresh(job)
    job.run.write_record({"status": "failed", "error": "from an earlier sweep"})
    before = {job.directory: job.run.stamp()}
    with job.run.lock():  # another process still runs it (e.g. a requeued job)
        assert settled(job, before, "launcher: boom")["status"] == "running"
    assert RunDir(job.directory).record()["error"] == "from an earlier sweep"
    record = settled(job, before, "launcher: boom")
    assert record["status"] == "failed" and "launcher: boom" in record["error"]


def test_slurm_config_submits_one_array_job_per_sweep(cli, results, tmp_path, monkeypatch):
    """The Slurm launcher's sbatch script, through the real path up to `sbatch` (a stand-in here).

    The stand-in cluster then reports every job as finished without either run having written a
    record (as Slurm can after a Python exception): the records, not the report, decide: failed.
    """
    import submitit.slurm.slurm
    from hydra.core.utils import JobReturn, JobStatus

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {tmp_path}/submitted.sh\necho "Submitted batch job 4242"\n')
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit looks for it; never run here
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(submitit.slurm.slurm.SlurmJob, "results",
                        lambda job: [JobReturn(status=JobStatus.COMPLETED, _return_value="completed")])

    result = cli("sweep", "--launcher", "slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=4",
                 "hydra.launcher.timeout_min=720", *FAST, *GRID, results=results)
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=4", "#SBATCH --ntasks-per-node=4",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --mem=64GB", "#SBATCH --time=720", "#SBATCH --array=0-1%2",
                 "#SBATCH --signal=USR2@120", "-m submitit.core._submit"):
        assert line in script, line
    assert f"{results.absolute()}/.launcher/" in script  # logs beside the records, on the shared filesystem
    assert result.exit_code == 1
    runs = records(results)
    assert len(runs) == 2 and {r["status"] for r in runs.values()} == {"failed"}
    assert all("ended without writing a record" in r["error"] for r in runs.values())


def _children(pid: int) -> list[int]:
    """Processes whose parent is pid (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_preempted_submitit_job_is_requeued_and_resumes_from_its_checkpoint(cli, results):
    """SIGUSR2 is the preemption signal submitit handles: it requeues the job, which resumes the run."""
    run = [*FAST, "rpe=none", "data.train_limit=128", "train.epochs=12"]
    [job] = plan_runs(run, results)
    outcome = {}
    sweep = threading.Thread(target=lambda: outcome.update(result=cli("sweep", "--launcher", "submitit_local", *run,
                                                                      results=results)))
    sweep.start()
    deadline = time.monotonic() + 300
    while not (job.directory / RunDir.CHECKPOINT).exists() and time.monotonic() < deadline:  # epoch 0 is saved
        time.sleep(0.1)
    [controller] = [int(p.name) for p in (results / ".launcher").glob("*/.submitit/*") if p.name.isdigit()]
    [task] = _children(controller)
    os.kill(task, signal.SIGUSR2)
    sweep.join(timeout=600)

    assert outcome["result"].exit_code == 0, outcome["result"].output
    record = RunDir(job.directory).record()
    assert record["status"] == "completed" and len(record["resumed_at_epochs"]) == 1
    assert 1 <= record["resumed_at_epochs"][0] < 12  # resumed mid-way, from the last epoch's checkpoint
    assert [row["epoch"] for row in RunDir(job.directory).metrics()] == list(range(12))  # nothing lost or repeated
    log = "".join(p.read_text() for p in (results / ".launcher").glob(f"*/.submitit/{controller}/*_log.*"))
    assert "this job is preempted" in log and "Requeued job" in log
