"""Time that tells the truth: the in-epoch progress file, an ETA that counts running runs, Ctrl-C that says
what was saved and how to resume."""
import json
import shlex
import signal
import threading
import time

import pytest
from conftest import FAST
from omegaconf import OmegaConf

from ablate.engine.runner import ProgressFile, execute
from ablate.results.rundir import RunDir
from ablate.sweep.outcome import INTERRUPTED
from ablate.sweep.display import SweepView, finish_time
from ablate.sweep.plan import Job, plan_runs
from ablate.sweep.progress import Progress


def test_progress_file_counts_steps_and_images_per_second(tmp_path, monkeypatch):
    run = RunDir(tmp_path)
    progress = ProgressFile(run, epochs=3, steps_per_epoch=4, batch_size=32)
    progress.start_epoch(1, global_step=4)
    assert run.progress() == {"epoch": 1, "epochs": 3, "step": 0, "steps": 4, "images_per_s": None}
    progress(5)  # within the second: not written
    assert run.progress()["step"] == 0
    monkeypatch.setattr(ProgressFile, "INTERVAL_S", 0.0)
    progress(6)
    written = run.progress()
    assert (written["step"], written["steps"]) == (2, 4) and written["images_per_s"] > 0


def test_the_runner_writes_progress_while_training_and_removes_it_at_the_end(results):
    job = plan_runs(FAST, results, sweep=False)[0]
    seen = []
    execute(job.config, job.directory, job.overrides, on_epoch=lambda row: seen.append(job.run.progress()))
    steps = seen[0]["steps"]
    assert [(p["epoch"], p["step"]) for p in seen] == [(0, steps), (1, steps)] and steps == 2
    assert all(p["images_per_s"] > 0 for p in seen)
    assert job.run.progress() is None and not (job.directory / RunDir.PROGRESS).exists()
    assert job.run.started()["overrides"] == FAST
    assert RunDir.PROGRESS not in json.dumps(job.run.record())  # nothing of it in the record


def test_finish_time_fills_free_workers_first():
    assert finish_time([10.0], [20.0, 20.0], workers=1) == 50.0
    assert finish_time([10.0], [20.0, 20.0], workers=2) == 30.0
    assert finish_time([], [], workers=2) == 0.0


def _view(tmp_path, n: int, workers: int) -> tuple[SweepView, list[Job]]:
    config = OmegaConf.create({"train": {"epochs": 6}})
    jobs = [Job([f"seed={i}"], config, tmp_path / f"run{i}", False) for i in range(n)]
    return SweepView(Progress(jobs, workers)), jobs


def test_eta_counts_the_running_runs_elapsed_time_and_moves_while_they_run(tmp_path):
    view, jobs = _view(tmp_path, 3, workers=1)
    p = view.progress
    assert view.eta({}) is None  # nothing tells yet how long a run takes
    p.start(jobs[0])
    t0 = p.running[jobs[0].directory]
    # no run has finished: a run takes what the running one extrapolates to (10 s for half = 20 s)
    assert view.eta({jobs[0].directory: 0.5}, now=t0 + 10) == pytest.approx(10 + 2 * 20)
    # stuck at half for 10 more seconds: the estimate grows instead of standing still
    assert view.eta({jobs[0].directory: 0.5}, now=t0 + 20) == pytest.approx(20 + 2 * 40)


def test_eta_from_finished_runs_falls_as_a_run_progresses_at_their_pace(tmp_path):
    view, jobs = _view(tmp_path, 3, workers=1)
    p = view.progress
    p.start(jobs[0])
    p.running[jobs[0].directory] -= 60
    p.end(jobs[0], {"status": "completed"})  # a whole run took 60 s
    p.start(jobs[1])
    t0 = p.running[jobs[1].directory]
    # in-epoch progress at the finished run's pace: the ETA falls second by second
    etas = [view.eta({jobs[1].directory: t / 60}, now=t0 + t) for t in (5, 10, 40)]
    assert etas == pytest.approx([55 + 60, 50 + 60, 20 + 60])


def test_eta_of_a_resumed_run_counts_only_what_it_had_left(tmp_path):
    view, jobs = _view(tmp_path, 1, workers=1)
    jobs[0].directory.mkdir()
    for epoch in range(3):  # half its epochs were done before this sweep
        RunDir(jobs[0].directory).append_metrics({"epoch": epoch, "top1": 50.0})
    p = view.progress
    p.start(jobs[0])
    assert p.began[jobs[0].directory] == 0.5
    t0 = p.running[jobs[0].directory]
    assert view.eta({jobs[0].directory: 0.75}, now=t0 + 10) == pytest.approx(10)


def test_ctrl_c_says_what_was_saved_and_the_command_that_resumes(cli, results, monkeypatch):
    import ablate.sweep.launch as launch

    real, calls = launch._in_process, []

    def second_run_interrupted_after_its_first_epoch(job: Job) -> dict:
        calls.append(job)
        if len(calls) == 1:
            return real(job)

        def ctrl_c(row: dict) -> None:
            raise KeyboardInterrupt

        return execute(job.config, job.directory, job.overrides, on_epoch=ctrl_c)

    monkeypatch.setattr(launch, "_in_process", second_run_interrupted_after_its_first_epoch)
    overrides = [*FAST, "rpe=none,irpe_k"]
    result = cli("sweep", *overrides, "-j", "1", results=results)  # in this process, where the run is replaced
    assert result.exit_code == 130, result.output
    lines = result.stdout.splitlines()
    assert f"interrupted: 1 runs finished and recorded; saved: {calls[1].directory.name} 1/2 epochs" in lines
    [resume] = [line for line in lines if line.startswith("resume with: ")]
    assert resume == "resume with: " + shlex.join(["ablate", "sweep", *overrides, "-j", "1", "--results-dir", str(results)])
    assert calls[1].run.record() is None and len(calls[1].run.metrics()) == 1

    monkeypatch.setattr(launch, "_in_process", real)
    again = cli(*shlex.split(resume.removeprefix("resume with: "))[1:])
    assert again.exit_code == 0, again.output
    assert "2 runs, 1 done, 1 to do" in again.stdout
    assert calls[1].run.record()["resumed_at_epochs"] == [1]


@pytest.mark.parametrize("inherited", ["default", "ignored", "blocked"])
def test_ctrl_c_reaches_a_worker_process_which_keeps_its_last_epoch(results, inherited):
    """Also when the launching process leaves SIGINT ignored, or blocked in the launching thread (both survive
    exec into the worker)."""
    from ablate.sweep.launch import Workers

    job = plan_runs([*FAST, "train.epochs=300"], results, sweep=False)[0]
    workers, outcome = Workers(threads=1), {}

    def launch() -> None:
        if inherited == "blocked":  # this thread's mask only
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        outcome.update(workers.run(job))

    before = signal.signal(signal.SIGINT, signal.SIG_IGN) if inherited == "ignored" else None
    try:
        thread = threading.Thread(target=launch)
        thread.start()
        while not job.run.path.exists() and thread.is_alive():  # the worker has started once its directory exists
            time.sleep(0.05)
    finally:
        if before is not None:
            signal.signal(signal.SIGINT, before)
    # Wait for the first epoch's checkpoint, not its metrics line (appended just before it), however slow a loaded
    # machine makes the worker's start-up: Ctrl-C before then would leave nothing to keep.
    deadline = time.monotonic() + 600
    while not (job.directory / RunDir.CHECKPOINT).is_file() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (job.directory / RunDir.CHECKPOINT).is_file(), "the worker saved no epoch in 10 minutes"
    workers.interrupt()
    thread.join(600)
    assert outcome["status"] == INTERRUPTED
    kept = len(job.run.metrics())
    assert 1 <= kept < 300 and (job.directory / RunDir.CHECKPOINT).is_file()
    assert job.run.record() is None and job.run.progress() is None  # not recorded as failed; nothing in progress


def test_ctrl_c_during_a_checkpoint_write_stops_the_run_rather_than_failing_it(results, monkeypatch):
    import ablate.engine.runner as runner

    real, saves = runner.save_checkpoint, []

    def torch_save_interrupted(run, state):  # what torch.save's zip writer does when Ctrl-C lands inside it
        saves.append(state["epoch"])
        if len(saves) == 2:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt:
                raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos") from None
        real(run, state)

    monkeypatch.setattr(runner, "save_checkpoint", torch_save_interrupted)
    job = plan_runs(FAST, results, sweep=False)[0]
    with pytest.raises(KeyboardInterrupt):
        execute(job.config, job.directory, job.overrides)
    assert job.run.record() is None and not (job.directory / RunDir.ERROR).exists()
    assert job.run.state() == "incomplete"


def test_eta_pays_a_runs_start_up_once(tmp_path):
    view, jobs = _view(tmp_path, 2, workers=1)
    p = view.progress
    p.start(jobs[0])
    t0 = p.running[jobs[0].directory]
    view.training_since[jobs[0].directory] = t0 + 10  # 10 s of imports and data before the first step
    # 5 s of training did a quarter: 20 s of training a run, plus its 10 s start-up
    assert view.eta({jobs[0].directory: 0.25}, now=t0 + 15) == pytest.approx(15 + 30)
