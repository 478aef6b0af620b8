"""`ablate bench` runs on a CPU (tiny settings; speed itself is what the command prints), and torch.compile works
with every attention backend that runs here."""
import pandas as pd
import pytest
import timm
import torch

from ablate.bench.speed import Row, Timer, default_backends, detr_encoder_rows, left_out, ratios, run_bench


def test_rows_are_measured_and_compared_to_the_fastest_plain_model():
    rows = run_bench("deit_pico_patch4_28", 2, torch.device("cpu"), torch.float32, steps=1, warmup=0,
                     backends=["eager", "sdpa"], variants=["K ctx", "QKV ctx"], compile_models=False, detr=False)
    assert [(r.variant, r.backend) for r in rows] == [("none", "sdpa"), ("K ctx", "eager"), ("K ctx", "sdpa"),
                                                      ("QKV ctx", "eager"), ("QKV ctx", "sdpa")]
    assert all(r.train_img_s > 0 and r.infer_img_s > 0 and not r.note for r in rows)
    assert ratios(rows)[0] == (1.0, 1.0)


def test_a_backend_that_cannot_train_here_is_noted_not_fatal():
    [plain, flex] = detr_encoder_rows(["flex"], torch.device("cpu"), 2, (3, 4), Timer(torch.device("cpu")), 1, 0,
                                      torch.float32)
    assert plain.variant == "none" and plain.train_img_s > 0
    assert flex.train_img_s is None and flex.infer_img_s > 0 and "backward" in flex.reason


def test_a_cpu_bench_times_only_backends_that_train_here_and_says_why_the_others_are_absent():
    cpu = torch.device("cpu")
    assert default_backends(cpu) == ["eager", "sdpa"]
    assert [line.split(":")[0] for line in left_out(cpu)] == ["flex", "triton"]
    assert default_backends(torch.device("cuda")) == ["eager", "sdpa", "flex", "triton"] and not left_out(
        torch.device("cuda"))


def test_ratios_of_rows_without_a_plain_row_are_empty():
    assert ratios([Row("m", "K ctx", "sdpa", False, 10.0, 20.0)]) == {0: (None, None)}


def test_cli_writes_the_rows_with_the_environment(cli, tmp_path):
    out = tmp_path / "bench.csv"
    result = cli("bench", "--model", "deit_pico_patch4_28", "--batch", "2", "--steps", "1", "--warmup", "0",
                 "--backends", "sdpa", "--variants", "K bias", "--no-detr", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output and "CUDA_HOME" not in result.output
    frame = pd.read_csv(out)
    assert list(frame["variant"]) == ["none", "K bias"]
    assert {"device", "torch", "triton", "cuda", "train_img_s", "train_ratio", "peak_gib"} <= set(frame.columns)


def test_cli_layer_mode_times_each_backend_against_eager(cli, tmp_path):
    out = tmp_path / "layer.csv"
    result = cli("bench", "--layer", "--batch", "1", "--steps", "1", "--warmup", "0", "--backends", "sdpa",
                 "--output", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 6 and (frame["ratio"] > 0).all() and set(frame["backend"]) == {"sdpa"}


@pytest.mark.parametrize("args, needle", [(["--backends", "fast"], "fast"), (["--variants", "K"], "variant 'K'"),
                                          (["--dtype", "fp8"], "--dtype fp8")])
def test_cli_bad_input_is_one_line(cli, args, needle):
    result = cli("bench", *args)
    assert result.exit_code == 2 and needle in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("backend", ["eager", "sdpa", "flex", "triton"])
def test_torch_compile_works_with_every_backend(backend):
    """Compiled and eager-mode models agree (flex: forward only, torch has no FlexAttention backward on CPU)."""
    torch.manual_seed(0)
    model = timm.create_model("deit_pico_patch4_28", rpe="ctx_product_50_shared_qk", attn_backend=backend, depth=1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lookup_table" in name:
                p.normal_()
    x = torch.randn(2, 1, 16, 16)  # a 4 x 4 grid: small enough for the interpreted Triton kernels
    compiled = torch.compile(model)
    if backend == "flex":
        with torch.no_grad():
            torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)
        return
    compiled(x).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model(x).sum().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(grads[name], p.grad, rtol=1e-4, atol=1e-5)


def test_random_tensor_training_check_writes_its_results(tmp_path):
    """The GPU command's training stage, at its CPU sizes: both models train on a fixed random batch."""
    import json
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "ablate.bench.random_train", str(tmp_path), "--steps", "4"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "random_train.json").read_text())
    assert report["backend"] == "sdpa"  # the Triton kernels only run interpreted on a CPU
    for name in ("deit", "detr"):
        losses = report[name]["losses"]
        assert len(losses) == 4 and losses[-1] < losses[0] and report[name]["trains"], name


def test_timed_functions_take_turns():
    calls = []
    timer = Timer(torch.device("cpu"))
    medians = timer.medians([lambda: calls.append("a"), lambda: calls.append("b")], steps=2, warmup=1)
    assert len(medians) == 2 and all(m >= 0 for m in medians)
    assert calls == ["a", "b"] + ["a", "b"] + ["b", "a"]  # warm-up, then the order turns round by round
