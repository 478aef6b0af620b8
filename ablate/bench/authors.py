"""Benchmark: one DeiT-S attention layer with iRPE, ours against the authors' code, forward and backward, on the
machine at hand (the CPU goal of issue 25: bias K at least as fast as theirs, contextual modes ahead).
Run: python -m ablate.bench.authors PATH [--batch 8 --steps 12 --backend auto --threads N]

PATH is the authors' DeiT folder, from `git clone https://github.com/microsoft/Cream` -> Cream/iRPE/DeiT-with-iRPE.
Nothing of theirs is copied here: their irpe.py is imported from PATH (their torch path: without rpe_ops built,
as on a CPU); their attention layer's forward (rpe_vision_transformer.py, which imports timm 0.3 names that
today's timm lacks) is restated here step for step: q, k, v indexed out of the projection, q scaled in place,
logits q k^T + rpe_k(q) + rpe_q(k * s)^T added in place, softmax, times v, plus rpe_v(attention).
Both layers are DeiT-S shaped (dim 384, 6 heads, class token + 14 x 14), hold the same weights (their outputs
are compared), and take turns step by step; the ratio is the median of per-round ratios, each of two steps
taken back to back under the same load from other processes.
"""
import argparse
import importlib
import statistics
import sys
import types
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from ablate.attention.layer import RPEAttention
from ablate.bench.speed import Timer
from ablate.rpe.config import RPEConfig

VARIANTS = {"K ctx": ("k", "contextual"), "QKV ctx": ("qkv", "contextual"), "K bias": ("k", "bias")}
DIM, HEADS, GRID = 384, 6, (14, 14)


def load_authors(path: Path) -> types.ModuleType:
    """The authors' irpe module from their DeiT folder (easydict, which it imports for attribute dicts, may be
    absent: a namespace stands in)."""
    if not (path / "irpe.py").is_file():
        raise SystemExit(f"{path} has no irpe.py: pass the DeiT-with-iRPE folder of github.com/microsoft/Cream")
    if importlib.util.find_spec("easydict") is None:
        sys.modules["easydict"] = types.ModuleType("easydict")
        sys.modules["easydict"].EasyDict = types.SimpleNamespace
    sys.path.insert(0, str(path))
    with warnings.catch_warnings():  # their notice that the CUDA op is not built: we time their torch path
        warnings.filterwarnings("ignore", message=".*rpe_ops")
        return importlib.import_module("irpe")


class AuthorsAttention(nn.Module):
    """The authors' attention layer around their iRPE modules (the algorithm as performance.md states it)."""

    def __init__(self, irpe: types.ModuleType, rpe_on: str, mode: str) -> None:
        super().__init__()
        self.qkv, self.proj = nn.Linear(DIM, 3 * DIM), nn.Linear(DIM, DIM)
        config = irpe.get_rpe_config(ratio=1.9, method="product", mode=mode, shared_head=True, skip=1, rpe_on=rpe_on)
        self.rpe_q, self.rpe_k, self.rpe_v = irpe.build_rpe(config, head_dim=DIM // HEADS, num_heads=HEADS)

    def forward(self, x: Tensor) -> Tensor:
        """(B, L, dim) -> (B, L, dim)."""
        batch, length, _ = x.shape
        qkv = self.qkv(x).reshape(batch, length, 3, HEADS, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # as theirs: indexed (for TorchScript), scaled and summed in place
        scale = q.shape[-1] ** -0.5
        q *= scale
        attn = q @ k.transpose(-2, -1)
        if self.rpe_k is not None:
            attn += self.rpe_k(q)
        if self.rpe_q is not None:
            attn += self.rpe_q(k * scale).transpose(2, 3)
        attn = attn.softmax(dim=-1)
        out = attn @ v
        if self.rpe_v is not None:
            out += self.rpe_v(attn)
        return self.proj(out.transpose(1, 2).reshape(batch, length, DIM))


def layers(irpe: types.ModuleType, variant: str, backend: str) -> tuple[nn.Module, nn.Module]:
    """(ours, theirs) with the same random weights, tables included."""
    rpe_on, mode = VARIANTS[variant]
    ours = RPEAttention(DIM, HEADS, qkv_bias=True, backend=backend,
                        rpe=RPEConfig(method="product", mode=mode, ratio=1.9, rpe_on=rpe_on, prefix=1))
    ours.grid = GRID
    theirs = AuthorsAttention(irpe, rpe_on, mode)
    torch.manual_seed(0)
    state = {name: 0.1 * torch.randn_like(value) for name, value in theirs.state_dict().items()}
    theirs.load_state_dict(state)
    ours.load_state_dict(state)
    return ours, theirs


def main() -> None:
    """Print per variant: ours and theirs in ms per forward+backward, their ratio, and the largest difference."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path, help="the authors' DeiT-with-iRPE folder")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, all cores); on a busy "
                        "machine 1 thread is steadier")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    irpe = load_authors(args.path)
    print(f"one DeiT-S attention layer, batch {args.batch}, fp32, fwd+bwd, cpu, {torch.get_num_threads()} threads, "
          f"median of {args.steps} interleaved steps; ours on backend {args.backend}")
    print(f"{'variant':<8} {'ours ms':>8} {'theirs ms':>10} {'ours speed / theirs':>20} {'max |diff|':>11}")
    x = torch.randn(args.batch, 1 + GRID[0] * GRID[1], DIM, requires_grad=True)
    for variant in VARIANTS:
        ours, theirs = layers(irpe, variant, args.backend)
        with torch.no_grad():
            diff = (ours(x) - theirs(x)).abs().max().item()
        steps = [lambda layer=layer: layer(x).sum().backward() for layer in (ours, theirs)]
        ours_s, theirs_s = Timer(torch.device("cpu")).rounds(steps, args.steps, args.warmup)
        # The median of per-round ratios: each ratio compares two steps taken back to back, under the same load.
        ratio = statistics.median(t / o for o, t in zip(ours_s, theirs_s))
        print(f"{variant:<8} {statistics.median(ours_s) * 1e3:>8.1f} {statistics.median(theirs_s) * 1e3:>10.1f} "
              f"{ratio:>19.2f}x {diff:>11.1e}", flush=True)


if __name__ == "__main__":
    main()
