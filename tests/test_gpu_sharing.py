"""Many small runs on one GPU: which GPUs a process may use, worker slots placed on them, the memory
estimate the plan states (checked against the tensors autograd saves, measured on the CPU)."""
import json
import subprocess
import sys
import threading
import time

import pytest
import torch
from conftest import FAST
from omegaconf import OmegaConf

import ablate.engine.resources
import ablate.sweep.launch
import ablate.sweep.memory
from ablate.config.compose import Composer
from ablate.results.records import new_record
from ablate.results.rundir import RunDir
from ablate.sweep.launch import launch
from ablate.sweep.memory import SLACK, gpu_plan, run_memory
from ablate.sweep.plan import plan_runs
from ablate.sweep.progress import Progress


def test_gpu_ids_follow_cuda_visible_devices_or_the_driver(monkeypatch, tmp_path):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2, 3")
    assert ablate.engine.resources.gpu_ids() == ["2", "3"]
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert ablate.engine.resources.gpu_ids() == []
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    for i in range(2):
        (tmp_path / f"0000:0{i}:00.0").mkdir()
    monkeypatch.setattr(ablate.engine.resources, "NVIDIA_GPUS", tmp_path)
    assert ablate.engine.resources.gpu_ids() == ["0", "1"]
    monkeypatch.setattr(ablate.engine.resources, "NVIDIA_GPUS", tmp_path / "absent")
    assert ablate.engine.resources.gpu_ids() == []


class FakeWorkers:
    """subprocess.Popen for worker processes: writes the run's record after a moment, noting its GPU."""

    def __init__(self):
        self.lock, self.active, self.most, self.seen = threading.Lock(), {}, {}, []
        self.real = subprocess.Popen

    def __call__(self, args, env=None, **kwargs):
        if args[:3] != [sys.executable, "-m", "ablate.sweep.worker"]:  # e.g. git describe for provenance
            return self.real(args, env=env, **kwargs)
        return FakeWorker(self, None if env is None else env["CUDA_VISIBLE_DEVICES"])


class FakeWorker:
    """One fake worker process: its job arrives on stdin, as the real worker's does."""

    def __init__(self, workers: FakeWorkers, gpu: str | None):
        self.workers, self.gpu, self.returncode = workers, gpu, None

    def communicate(self, payload: str) -> tuple[str, str]:
        job, workers, gpu = json.loads(payload), self.workers, self.gpu
        with workers.lock:
            workers.seen.append(gpu)
            workers.active[gpu] = workers.active.get(gpu, 0) + 1
            workers.most[gpu] = max(workers.most.get(gpu, 0), workers.active[gpu])
        time.sleep(0.3)
        run = RunDir(job["directory"])
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_record(new_record(job["config"], run.name, job["overrides"], "completed", None, {"top1": 1.0}))
        with workers.lock:
            workers.active[gpu] -= 1
        self.returncode = 0
        return "", ""


@pytest.mark.parametrize("gpus, workers, device, most", [
    (["0"], 3, "auto", {"0": 3}),  # one GPU: every worker on it, side by side
    (["0", "1"], 4, "auto", {"0": 2, "1": 2}),  # two: slots alternate
    (["0"], 2, "cpu", {None: 2}),  # a CPU run keeps its environment
    (["0", "1"], 2, "cuda:1", {None: 2})])  # a config naming its GPU keeps it
def test_worker_slots_share_the_gpus(monkeypatch, results, gpus, workers, device, most):
    fake = FakeWorkers()
    monkeypatch.setattr(ablate.sweep.launch, "gpu_ids", lambda: gpus)
    monkeypatch.setattr(ablate.sweep.launch.subprocess, "Popen", fake)
    jobs = plan_runs([*FAST, "rpe=none", "seed=0,1,2,3,4,5", f"runtime.device={device}"], results)
    progress = Progress(jobs, workers)
    launch(jobs, workers, progress)
    assert [r["status"] for r in progress.ended.values()] == ["completed"] * 6
    assert fake.most == most and set(fake.seen) == set(most)


def _saved_bytes(cfg) -> tuple[int, int]:
    """Bytes of the tensors autograd keeps for backward in one training forward, and the parameter count."""
    from ablate.engine.model import build_model

    model = build_model(cfg.model, cfg.pe, cfg.rpe, cfg.data.num_classes, cfg.data.in_chans, cfg.data.img_size, 0.0)
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages = {}

    def keep(t):
        if t.untyped_storage().data_ptr() not in weights:
            storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    x = torch.randn(cfg.train.batch_size, cfg.data.in_chans, cfg.data.img_size, cfg.data.img_size)
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        model(x).logsumexp(-1).mean()
    return sum(storages.values()), sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("row", ["none", "noape", "product_ctx", "product_ctx_qkv"])
def test_memory_estimate_against_measured_activations(row):
    with Composer() as composer:
        cfg = composer.config(["experiment=paper/table4", f"+experiment/paper/row={row}", "train.batch_size=32"])
    measured, params = _saved_bytes(cfg)
    estimate = run_memory(OmegaConf.to_container(cfg, resolve=True))
    assert 0.85 < estimate.activations / SLACK / measured < 1.3, (row, estimate.activations, measured)
    assert estimate.state == pytest.approx(16 * params, rel=0.1)  # iRPE's bucket tables are left out
    if row in ("none", "noape"):
        assert estimate.state == 16 * params


def test_the_plan_states_memory_per_run_on_a_gpu(monkeypatch, cli, results):
    monkeypatch.setattr(ablate.sweep.memory, "gpu_ids", lambda: ["0"])
    with Composer() as composer:
        config = OmegaConf.to_container(composer.config(["experiment=paper/table4", "+experiment/paper/row=none"]),
                                        resolve=True)
    line = gpu_plan([config] * 12, 8)
    assert line.startswith("on 1 GPU: 8 runs side by side per GPU, about 0.57 GiB each, 4.5 GiB together")
    assert "activations 64 MiB at batch 64" in line
    assert gpu_plan([{**config, "runtime": {**config["runtime"], "device": "cpu"}}], 8) is None
    planned = cli("sweep", "experiment=detr_composite", "-j", "4", "--dry-run", results=results)
    assert "on 1 GPU: 2 runs side by side per GPU (memory not estimated for these models)" in planned.stdout
    monkeypatch.setattr(ablate.sweep.memory, "gpu_ids", lambda: [])
    assert "side by side" not in cli("sweep", *FAST, "-j", "2", "--dry-run", results=results).stdout
