"""Benchmark: a torch.compile'd training step against the eager one, per position-encoding setting.
Run: python -m ablate.bench.compile [--model deit_pico_patch4_28 --batch 64 --steps 20 --backend sdpa --threads N]

Per setting, one eager and one compiled copy of the same model (fullgraph: a graph break is an error), each with
its own AdamW; a step is forward, cross-entropy, backward, optimizer step. The two take turns step by step
(warm-up first, compilation included there); the table gives medians and compiled / eager throughput as the
median of per-round ratios, each of two steps taken back to back under the same load from other processes.
"""
import argparse
import copy
import statistics

import torch
import torch.nn.functional as F

from ablate.attention.compiler import quiet_cuda_probe
from ablate.bench.speed import DTYPES, VARIANTS, Timer, build_deit, step_functions
from ablate.engine.runner import pick_device
from ablate.models.registry import MODELS

SETTINGS = ("none", "K ctx", "QKV ctx", "K bias")


def compare(model: str, variant: str, backend: str, batch: int, device: torch.device, dtype: torch.dtype,
            steps: int, warmup: int) -> tuple[float, float, float]:
    """(eager, compiled) median seconds of a training step of one setting, and the median of per-round
    eager / compiled ratios (each of two steps taken back to back, under the same load)."""
    arch = MODELS[model]
    images = torch.randn(batch, arch.get("in_chans", 3), arch["img_size"], arch["img_size"], device=device)
    labels = torch.randint(0, 10, (batch,), device=device)
    eager = build_deit(model, variant, backend, device)
    compiled = torch.compile(copy.deepcopy(eager), fullgraph=True)
    train = [step_functions(net, lambda net=net: net(images), lambda out: F.cross_entropy(out.float(), labels),
                            device, dtype)[0] for net in (eager, compiled)]
    eager_s, compiled_s = Timer(device).rounds(train, steps, warmup)
    ratio = statistics.median(e / c for e, c in zip(eager_s, compiled_s))
    return statistics.median(eager_s), statistics.median(compiled_s), ratio


def main() -> None:
    """Print one row per setting: eager and compiled ms per step and their throughput ratio."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="deit_pico_patch4_28")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--backend", default="sdpa")
    parser.add_argument("--dtype", default="fp32", choices=list(DTYPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"of {', '.join(VARIANTS)}")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, all cores); on a busy "
                        "machine 1 thread is steadier")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # before compiling: inductor's CPU kernels take the count then
    device = pick_device(args.device)
    quiet_cuda_probe()
    print(f"{args.model}, batch {args.batch}, {args.dtype}, {args.backend}, {device}, "
          f"{torch.get_num_threads()} threads, median of {args.steps} interleaved steps")
    print(f"{'setting':<9} {'eager ms':>9} {'compiled ms':>12} {'compiled/eager':>15}")
    for variant in args.settings.split(","):
        eager_s, compiled_s, ratio = compare(args.model, variant, args.backend, args.batch, device,
                                             DTYPES[args.dtype], args.steps, args.warmup)
        print(f"{variant:<9} {eager_s * 1e3:>9.1f} {compiled_s * 1e3:>12.1f} {ratio:>14.2f}x", flush=True)


if __name__ == "__main__":
    main()
