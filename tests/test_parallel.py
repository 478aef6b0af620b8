"""The thread and parallelism policy (ablate.engine.parallel): usable cores from affinity and the cgroup quota,
-j auto's choice, threads per run, and passive OpenMP waiting reaching the processes that run the jobs. No
timings here: python -m ablate.bench.threads measures the policy."""
import json
import os
import subprocess
import sys

import pytest
from conftest import FAST

import ablate.engine.parallel
import ablate.engine.resources
import ablate.sweep.launch
from ablate.engine.parallel import parallel_runs, parse_jobs, threads_per_run
from ablate.engine.resources import cpu_count
from ablate.results.records import new_record
from ablate.results.rundir import RunDir


@pytest.fixture
def eight_cores(monkeypatch, tmp_path):
    """A process allowed on cores 0-7, its cgroup files under tmp_path (absent until a test writes them)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    v2, v1 = tmp_path / "cpu.max", (tmp_path / "cpu.cfs_quota_us", tmp_path / "cpu.cfs_period_us")
    monkeypatch.setattr(ablate.engine.resources, "CGROUP_V2", v2)
    monkeypatch.setattr(ablate.engine.resources, "CGROUP_V1", v1)
    return v2, v1


@pytest.mark.parametrize("cpu_max, cores", [
    (None, 8), ("max 100000", 8), ("200000 100000", 2), ("150000 100000", 2), ("1600000 100000", 8),
    ("50000 100000", 1), ("garbage", 8)])
def test_usable_cores_are_the_affinity_at_most_the_cgroup_v2_quota(eight_cores, cpu_max, cores):
    if cpu_max is not None:
        eight_cores[0].write_text(cpu_max + "\n")
    assert cpu_count() == cores


@pytest.mark.parametrize("quota, cores", [("-1", 8), ("300000", 3), ("25000", 1)])
def test_cgroup_v1_quota_counts_too(eight_cores, quota, cores):
    quota_file, period_file = eight_cores[1]
    quota_file.write_text(quota + "\n")
    period_file.write_text("100000\n")
    assert cpu_count() == cores


def test_affinity_narrower_than_the_quota_wins(eight_cores, monkeypatch):
    eight_cores[0].write_text("400000 100000\n")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert cpu_count() == 1


def test_jobs_are_a_number_of_runs_or_auto():
    assert parse_jobs("auto") is None and parse_jobs("3") == 3
    for bad, said in (("0", "at least 1, or auto (got 0)"), ("abc", "invalid value for '-j' / '--jobs'")):
        with pytest.raises(ValueError, match=said.replace("(", r"\(").replace(")", r"\)")):
            parse_jobs(bad)


def _configs(n: int, device: str = "cpu", threads: int = 0) -> list[dict]:
    return [{"runtime": {"device": device, "threads": threads}}] * n


@pytest.mark.parametrize("jobs, configs, gpus, parallel", [
    (None, _configs(6), [], 4),  # CPU runs: one per usable core
    (None, _configs(2), [], 2),  # never more than the runs to do
    (None, _configs(6, threads=2), [], 2),  # runs that ask for 2 threads: the cores hold two of them
    (None, _configs(6, threads=16), [], 1),
    (None, _configs(6, device="auto"), [], 4),  # auto without a GPU is the CPU
    (None, _configs(6, device="auto"), ["0"], 1),  # GPU runs: one at a time, as before auto
    (None, _configs(6, device="cuda:0"), [], 1),
    (None, [], [], 1),
    (3, _configs(6), [], 3),  # -j N as given, CPU or GPU
    (3, _configs(6, device="auto"), ["0"], 3)])
def test_auto_runs_cpu_runs_side_by_side_and_gpu_runs_one_at_a_time(monkeypatch, jobs, configs, gpus, parallel):
    monkeypatch.setattr(ablate.engine.parallel, "cpu_count", lambda: 4)
    monkeypatch.setattr(ablate.engine.parallel, "gpu_ids", lambda: gpus)
    assert parallel_runs(jobs, configs) == parallel


def test_threads_per_run_share_the_usable_cores(monkeypatch):
    monkeypatch.setattr(ablate.engine.parallel, "cpu_count", lambda: 4)
    assert [threads_per_run(n) for n in (1, 2, 3, 4, 8)] == [4, 2, 1, 1, 1]


class SeenWorkers:
    """subprocess.Popen for worker processes: notes each one's environment and runtime.threads, writes its record."""

    def __init__(self):
        self.env, self.threads, self.real = [], [], subprocess.Popen

    def __call__(self, args, env=None, **kwargs):
        if args[:3] != [sys.executable, "-m", "ablate.sweep.worker"]:  # e.g. git describe for provenance
            return self.real(args, env=env, **kwargs)
        self.env.append(dict(os.environ if env is None else env))  # None: the worker inherits this process's
        return SeenWorker(self)


class SeenWorker:
    def __init__(self, workers: SeenWorkers):
        self.workers, self.returncode = workers, None

    def communicate(self, payload: str) -> tuple[str, str]:
        job = json.loads(payload)
        self.workers.threads.append(job["config"]["runtime"]["threads"])
        run = RunDir(job["directory"])
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_record(new_record(job["config"], run.name, job["overrides"], "completed", None, {"top1": 1.0}))
        self.returncode = 0
        return "", ""


@pytest.mark.parametrize("cores, args, threads", [
    (2, ["runtime.threads=0"], [1, 1]),  # auto: side by side, usable cores / runs at once
    (4, ["runtime.threads=0", "-j", "2"], [2, 2]),
    (4, ["runtime.threads=3", "-j", "2"], [3, 3])])  # runtime.threads=N is kept
def test_a_sweeps_workers_get_their_threads_and_wait_passively(cli, results, monkeypatch, cores, args, threads):
    seen = SeenWorkers()
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setattr(ablate.engine.parallel, "cpu_count", lambda: cores)
    monkeypatch.setattr(ablate.engine.parallel, "gpu_ids", lambda: [])
    monkeypatch.setattr(ablate.sweep.launch.subprocess, "Popen", seen)
    result = cli("sweep", *FAST, "rpe=none", "seed=0,1", *args, results=results)
    assert result.exit_code == 0, result.output
    assert sorted(seen.threads) == threads
    assert [env.get("OMP_WAIT_POLICY") for env in seen.env] == ["PASSIVE"] * 2


def test_a_wait_policy_in_the_environment_is_kept(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    ablate.engine.parallel.wait_passively()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_openmp_reads_the_passive_policy_when_torch_loads():
    """What torch's OpenMP runtime itself says it read (OMP_DISPLAY_ENV), set as a sweep sets it."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | {"OMP_DISPLAY_ENV": "TRUE"}
    program = "from ablate.engine.parallel import wait_passively; wait_passively(); import torch; torch.ones(1)"
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in done.stderr
