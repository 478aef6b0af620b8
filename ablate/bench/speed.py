"""`ablate bench`: what iRPE costs a whole model (or one attention layer), per attention backend, measured the way
performance.md says.

One process, every row back to back: a training step (forward, cross-entropy, backward, AdamW) and an
inference step of a whole DeiT on random images, median of `steps` timed steps after `warmup` untimed ones
(compilation included there), CUDA events on a GPU. Rows: no RPE at its fastest (SDPA, compiled when asked)
and plain; iRPE-K, -QK, -QKV contextual and K, QK bias (product, 50 buckets, shared heads, all blocks) on
each backend; a DETR-encoder-shaped row (6 layers, d 256, 8 heads, a 25 x 40 grid = 1,000 tokens with
padded keys, iRPE-K at ratio 2.0). Each row's throughput is also given as a ratio to the fastest no-RPE row.
A backend that cannot run a row (too many terms) is skipped with the reason; on a CPU the default leaves out
the backends that cannot train or only run interpreted there (NOT_ON_CPU), and says so.
"""
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import timm
import torch
import torch.nn.functional as F

import ablate.models.deit  # noqa: F401  (registers the DeiT/iRPE models with timm)
from ablate.attention.compiler import quiet_cuda_probe
from ablate.models.registry import MODELS
from ablate.attention.layer import RPEAttention
from ablate.rpe.config import RPEConfig

VARIANTS = {  # name -> (rpe_on, mode); None: no RPE
    "none": None, "K ctx": ("k", "contextual"), "QK ctx": ("qk", "contextual"), "QKV ctx": ("qkv", "contextual"),
    "K bias": ("k", "bias"), "QK bias": ("qk", "bias"),
}
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class Row:
    """One measured configuration."""

    model: str
    variant: str
    backend: str
    compiled: bool
    train_img_s: float | None = None
    infer_img_s: float | None = None
    peak_gib: float | None = None
    note: str = ""  # why a measurement is missing, in a word
    reason: str = ""  # the same, in the backend's words
    tiles: str = ""  # the fused kernels' tiles the autotuner chose for this row (GPU, triton backend)


class Timer:
    """Seconds per call of a step, median over timed calls: CUDA events on a GPU, the wall clock on a CPU."""

    def __init__(self, device: torch.device):
        self.device = device

    def median(self, step: Callable[[], None], steps: int, warmup: int) -> float:
        """Median seconds of `steps` calls after `warmup` untimed ones."""
        return self.medians([step], steps, warmup)[0]

    def medians(self, fns: list[Callable[[], None]], steps: int, warmup: int) -> list[float]:
        """Median seconds of each step function, the functions taking turns (a busy machine slows them alike)."""
        return [statistics.median(record) for record in self.rounds(fns, steps, warmup)]

    def rounds(self, fns: list[Callable[[], None]], steps: int, warmup: int) -> list[list[float]]:
        """Seconds of each step function in each of `steps` rounds after `warmup` untimed ones; every function
        runs once per round, in an order that turns round by round, so none always follows the same one."""
        for _ in range(warmup):
            for fn in fns:
                fn()
        times: list[list[float]] = [[] for _ in fns]
        for round_ in range(steps):
            shift = round_ % len(fns)
            for i in list(range(len(fns)))[shift:] + list(range(len(fns)))[:shift]:
                times[i].append(self._seconds(fns[i]))
        return times

    def _seconds(self, step: Callable[[], None]) -> float:
        if self.device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) / 1000
        begin = time.perf_counter()
        step()
        return time.perf_counter() - begin


def build_deit(name: str, variant: str, backend: str, device: torch.device) -> torch.nn.Module:
    """A model of the bench with one iRPE variant (product, ratio 1.9, shared heads) on a backend, seeded."""
    sites = VARIANTS[variant]
    rpe = RPEConfig(method="product", mode=sites[1], ratio=1.9, rpe_on=sites[0]) if sites else None
    torch.manual_seed(0)
    return timm.create_model(name, rpe=rpe, attn_backend=backend).to(device)


def step_functions(model: torch.nn.Module, forward: Callable[[], torch.Tensor],
                   loss_of: Callable[[torch.Tensor], torch.Tensor], device: torch.device,
                   dtype: torch.dtype) -> tuple[Callable[[], None], Callable[[], None]]:
    """(training step: forward, loss, backward, AdamW; inference step: forward without gradients)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)

    def train() -> None:
        with autocast:
            loss = loss_of(forward())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def infer() -> None:
        with autocast:
            forward()
    return train, infer


def _measure(row: Row, steps: tuple[Callable[[], None], Callable[[], None]], batch: int, device: torch.device,
             timer: Timer, count: int, warmup: int) -> Row:
    """Fill a row's throughputs, peak memory and tuned tiles; a row that cannot run keeps the reason in its note."""
    from ablate.attention.kernels.dispatch import chosen_tiles

    before = chosen_tiles()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    for name, step in zip(("train", "infer"), steps):
        try:
            setattr(row, f"{name}_img_s", batch / timer.median(step, count, warmup))
        except (ValueError, RuntimeError, NotImplementedError) as e:  # a backend that cannot run this row
            row.note = f"no {name}: {type(e).__name__}"
            row.reason = str(e).splitlines()[0]
    if device.type == "cuda":
        row.peak_gib = torch.cuda.max_memory_allocated(device) / 2**30
    row.tiles = ", ".join(f"{key[0]} {tiles}" for key, tiles in chosen_tiles().items() if key not in before)
    return row


def detr_encoder_rows(backends: list[str], device: torch.device, batch: int, grid: tuple[int, int],
                      timer: Timer, steps: int, warmup: int, dtype: torch.dtype) -> list[Row]:
    """DETR's encoder (6 layers, d 256, 8 heads, FFN 2048) on a padded grid: no RPE (SDPA), then iRPE-K
    (rpe-2.0-product-ctx-1-k) on each backend."""
    from ablate.models.detr.transformer import Encoder, EncoderLayer

    rows = []
    length = grid[0] * grid[1]
    src, pos = torch.randn(batch, length, 256, device=device), torch.randn(batch, length, 256, device=device)
    mask = torch.zeros(batch, length, dtype=torch.bool, device=device)
    mask[batch // 2:, -length // 4:] = True  # half the batch padded: a quarter of their keys masked
    for variant, backend in [("none", "sdpa")] + [("K ctx", b) for b in backends]:
        rpe = RPEConfig.from_flag("rpe-2.0-product-ctx-1-k") if variant != "none" else None
        torch.manual_seed(0)
        encoder = Encoder([EncoderLayer(256, 8, 2048, 0.0, rpe, backend) for _ in range(6)]).to(device)
        steps_of = step_functions(encoder, lambda encoder=encoder: encoder(src, pos, *grid, mask),
                                  lambda out: out.float().square().mean(), device, dtype)
        rows.append(_measure(Row(f"DETR enc {grid[0]}x{grid[1]}", variant, backend, False), steps_of, batch, device,
                             timer, steps, warmup))
    return rows


def run_bench(model: str, batch: int, device: torch.device, dtype: torch.dtype, steps: int, warmup: int,
              backends: list[str], variants: list[str], compile_models: bool, detr: bool,
              on_row: Callable[[Row], None] = lambda row: None) -> list[Row]:
    """Every row, back to back in this process."""
    quiet_cuda_probe()
    timer = Timer(device)
    arch = MODELS[model]
    images = torch.randn(batch, arch.get("in_chans", 3), arch["img_size"], arch["img_size"], device=device)
    rows = []
    plans = [("none", "sdpa", True), ("none", "sdpa", False)] if compile_models else [("none", "sdpa", False)]
    plans += [(v, b, compile_models) for v in variants if v != "none" for b in backends]
    labels = torch.randint(0, 10, (batch,), device=device)
    for variant, backend, compiled in plans:
        net = build_deit(model, variant, backend, device)
        net = torch.compile(net) if compiled else net
        steps_of = step_functions(net, lambda net=net: net(images),
                                  lambda out: F.cross_entropy(out.float(), labels), device, dtype)
        row = _measure(Row(model, variant, backend, compiled), steps_of, batch, device, timer, steps, warmup)
        rows.append(row)
        on_row(row)
    if detr:
        grid = (25, 40) if device.type == "cuda" else (10, 10)
        for row in detr_encoder_rows(backends, device, max(2, batch // 16), grid, timer, steps, warmup, dtype):
            rows.append(row)
            on_row(row)
    return rows


def environment(device: torch.device) -> dict[str, str]:
    """Device name and the versions a speed depends on."""
    import triton

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.machine()}, " \
        f"{torch.get_num_threads()} threads)"
    return {"device": name, "torch": torch.__version__, "triton": triton.__version__,
            "cuda": torch.version.cuda or "-", "timm": timm.__version__}


def ratios(rows: list[Row]) -> dict[int, tuple[float | None, float | None]]:
    """Each row's train and inference throughput over the fastest no-RPE row's (of the same model)."""
    out = {}
    for i, row in enumerate(rows):
        base = [r for r in rows if r.variant == "none" and r.model == row.model and r.train_img_s]
        if not base or row.train_img_s is None:
            out[i] = (None, None)
            continue
        best = max(base, key=lambda r: r.train_img_s)
        out[i] = (row.train_img_s / best.train_img_s, row.infer_img_s / best.infer_img_s)
    return out


# Backends a CPU bench leaves out unless named, and why: it would time a row that cannot train, or a kernel that
# runs only through Triton's interpreter there.
NOT_ON_CPU = {"flex": "torch has no FlexAttention backward on a CPU",  # --backends flex times its inference
              "triton": "the fused kernels only run interpreted on a CPU"}


def default_backends(device: torch.device) -> list[str]:
    """Every registered backend that trains on the device (on a CPU, all but NOT_ON_CPU)."""
    from ablate.attention.backends import BACKENDS

    return [name for name in BACKENDS if device.type == "cuda" or name not in NOT_ON_CPU]


def left_out(device: torch.device) -> list[str]:
    """Why each backend default_backends leaves out on the device is absent, one line each."""
    return [] if device.type == "cuda" else [f"{name}: left out, {why}" for name, why in NOT_ON_CPU.items()]


def layer_rows(backends: list[str], device: torch.device, batch: int, steps: int, warmup: int) -> list[list]:
    """One attention layer at DeiT-S shape (dim 384, 6 heads, 14x14 + class token), forward and backward (forward
    only where a backend has no backward here), each backend timed in turn against eager: the CPU goal's test."""
    timer, table = Timer(device), []
    for variant, sites in VARIANTS.items():
        config = RPEConfig(method="product", mode=sites[1], ratio=1.9, rpe_on=sites[0], prefix=1) if sites else None
        for backend in backends:
            if backend == "eager":
                continue
            backward = not (backend == "flex" and device.type == "cpu")
            fns = []
            for name in ("eager", backend):
                torch.manual_seed(0)
                layer = RPEAttention(384, 6, qkv_bias=True, rpe=config, backend=name).to(device)
                layer.grid = (14, 14)
                x = torch.randn(batch, 197, 384, device=device, requires_grad=backward)
                fns.append((lambda layer=layer, x=x: layer(x).sum().backward()) if backward
                           else torch.no_grad()(lambda layer=layer, x=x: layer(x)))
            times = timer.medians(fns, steps, warmup)
            table.append([variant, backend, "fwd+bwd" if backward else "fwd", times[0] * 1e3, times[1] * 1e3,
                          times[1] / times[0]])
    return table
