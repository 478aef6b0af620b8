"""torch.compile sees each model as one graph: no graph break (torch._dynamo.explain), forward and backward, and
no recompilation from one training step to the next of the same shape.

Graphs are captured only (explain, or the aot_eager backend, which traces forward and backward through
AOTAutograd without generating code), so the file stays fast; `python -m ablate.bench.compile` times the
compiled steps. The flex backend is left out: on a CPU it calls FlexAttention outside the enclosing graph
(breaks at every layer, by design: inductor cannot lower it there, see ablate/attention/backends/flex.py).
"""
import pytest
import timm
import torch

import ablate.models.deit  # noqa: F401  (registers the models with timm)
from ablate.pe.constant import grid_constant
from ablate.rpe.config import RPEConfig

SETTINGS = {  # name -> (rpe sites and mode, or None; the other encoding)
    "none": (None, "none"), "K ctx": (("k", "contextual"), "none"), "QKV ctx": (("qkv", "contextual"), "none"),
    "K bias": (("k", "bias"), "none"), "rope_axial": (None, "rope_axial"), "bias_table": (None, "bias_table"),
}


def _model(setting: str, backend: str) -> torch.nn.Module:
    sites, pe = SETTINGS[setting]
    rpe = RPEConfig(method="product", mode=sites[1], ratio=1.9, rpe_on=sites[0]) if sites else None
    torch.manual_seed(0)
    return timm.create_model("deit_pico_patch4_28", rpe=rpe, pe=pe, attn_backend=backend)


@pytest.mark.parametrize("backend", ["eager", "sdpa"])
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_no_graph_break(setting: str, backend: str) -> None:
    model = _model(setting, backend)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(torch.randn(2, 1, 28, 28))
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons


def test_no_graph_break_in_the_fused_kernels() -> None:
    """The Triton backend is two opaque custom ops to Dynamo (interpreted here, compiled on a GPU)."""
    model = _model("QKV ctx", "triton")
    torch._dynamo.reset()
    explained = torch._dynamo.explain(model)(torch.randn(1, 1, 28, 28))
    assert explained.graph_break_count == 0, explained.break_reasons


@pytest.mark.parametrize("setting", ["K ctx", "K bias"])
def test_training_steps_compile_once(setting: str) -> None:
    """Forward and backward in one graph each (fullgraph), the same gradients as eager, no recompilation."""
    model, images, labels = _model(setting, "sdpa"), torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        for p in model.parameters():  # the iRPE tables start at zero: give them gradients that matter
            p.add_(0.02 * torch.randn_like(p))
    eager = torch.autograd.grad(torch.nn.functional.cross_entropy(model(images), labels), list(model.parameters()))
    torch._dynamo.reset()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    with torch._dynamo.config.patch(error_on_recompile=True):
        for _ in range(3):
            grads = torch.autograd.grad(torch.nn.functional.cross_entropy(compiled(images), labels),
                                        list(model.parameters()))
    for grad, expected in zip(grads, eager, strict=True):
        torch.testing.assert_close(grad, expected, rtol=1e-4, atol=1e-6)


def test_grid_constant_survives_a_graph_break() -> None:
    """A cached map stays right when the graph breaks while it is live, and is built once."""
    calls = []

    @grid_constant
    def ramp(n: int, device: torch.device) -> torch.Tensor:
        calls.append(n)
        return torch.arange(n, device=device)

    def f(x: torch.Tensor) -> torch.Tensor:
        ids = ramp(x.shape[0], x.device)
        torch._dynamo.graph_break()
        return x + ids

    torch._dynamo.reset()
    x = torch.zeros(5)
    assert torch.equal(torch.compile(f)(x), torch.arange(5.0)) and torch.equal(f(x), torch.arange(5.0))
    assert calls == [5]


def test_runtime_compile_compiles_the_model_in_place_and_is_no_part_of_a_runs_identity(cli, results, monkeypatch):
    """runtime.compile=true compiles the run's model (Module.compile: its keys and hooks stay); the same run without
    it is already done. Compilation itself is replaced by a record of the call (inductor takes minutes here)."""
    from conftest import FAST

    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kwargs: compiled.append(type(self).__name__))
    first = cli("train", *FAST, "rpe=irpe_k", "runtime.compile=true", results=results)
    assert first.exit_code == 0 and "completed" in first.output, first.output
    assert compiled == ["RPEVisionTransformer"]
    again = cli("train", *FAST, "rpe=irpe_k", results=results)
    assert again.exit_code == 0 and "already done" in again.output, again.output


def test_the_no_cuda_runtime_notice_of_inductors_cpu_path_is_dropped_and_nothing_else() -> None:
    import logging

    from ablate.attention.compiler import quiet_cuda_probe

    quiet_cuda_probe()
    logger = logging.getLogger("torch.utils.cpp_extension")
    notice = logging.makeLogRecord({"msg": "No CUDA runtime is found, using CUDA_HOME='%s'", "args": ("/usr/local",)})
    other = logging.makeLogRecord({"msg": "Emitting ninja build file %s", "args": ("build.ninja",)})
    assert not logger.filter(notice) and logger.filter(other)
