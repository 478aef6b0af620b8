"""A short training on random tensors: does a whole model train with a backend, at a precision, on this device?

    python -m ablate.bench.random_train OUT_DIR [--backend triton] [--steps 30]

On a GPU: deit_small_patch16_224_ctx_product_50_shared_k (the authors' model) at batch 64, and DETR-R50 with
rpe-2.0-product-ctx-1-k at batch 4 on 512 x 640 images (a 16 x 20 feature map, padded), bf16 autocast, AdamW.
On a CPU: the same code at toy sizes (deit_pico, a quarter-width ResNet-18 DETR), fp32. Each writes its
losses and step times to OUT_DIR/random_train.json; the losses of a model that trains must stay finite and
fall on the fixed batch it sees again and again.
"""
import argparse
import json
import math
import statistics
import time
from pathlib import Path

import timm
import torch
import torch.nn.functional as F

import ablate.models.deit  # noqa: F401  (registers the DeiT/iRPE models with timm)
from ablate.models.detr import build_criterion, build_detr


def _train(model: torch.nn.Module, loss_of, steps: int, device: torch.device, dtype: torch.dtype) -> dict:
    """Repeat one batch for `steps` AdamW steps; losses and median step seconds."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    losses, times = [], []
    for _ in range(steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = loss_of(model)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
        losses.append(loss.item())
    return {"losses": losses, "median_step_s": statistics.median(times[1:] or times),
            "trains": all(math.isfinite(x) for x in losses) and losses[-1] < losses[0]}


def deit_check(backend: str, device: torch.device, dtype: torch.dtype, steps: int) -> dict:
    """The authors' DeiT-S with contextual iRPE-K (or deit_pico on a CPU) on one random batch."""
    name = "deit_small_patch16_224_ctx_product_50_shared_k" if device.type == "cuda" else "deit_pico_patch4_28"
    torch.manual_seed(0)
    model = timm.create_model(name, attn_backend=backend, **({} if device.type == "cuda" else
                                                              {"rpe": "ctx_product_50_shared_k"})).to(device)
    size = 224 if device.type == "cuda" else 28
    batch = 64 if device.type == "cuda" else 8
    images = torch.randn(batch, model.patch_embed.proj.in_channels, size, size, device=device)
    labels = torch.randint(0, model.num_classes, (batch,), device=device)
    return {"model": name, **_train(model, lambda m: F.cross_entropy(m(images).float(), labels), steps, device, dtype)}


def detr_check(backend: str, device: torch.device, dtype: torch.dtype, steps: int) -> dict:
    """DETR with the authors' flag rpe-2.0-product-ctx-1-k (R50 on a GPU, a toy trunk on a CPU), padded images."""
    torch.manual_seed(0)
    gpu = device.type == "cuda"
    small = {} if gpu else dict(backbone="resnet18", backbone_width=8, hidden_dim=32, nheads=4, enc_layers=2,
                                dec_layers=2, dim_feedforward=64, num_queries=10)
    model = build_detr("rpe-2.0-product-ctx-1-k", num_classes=91, attn_backend=backend, **small).to(device)
    criterion = build_criterion(91).to(device)
    height, width = (512, 640) if gpu else (64, 96)
    images = torch.randn(4, 3, height, width, device=device)
    mask = torch.zeros(4, height, width, dtype=torch.bool, device=device)
    mask[2:, :, width * 3 // 4:] = True  # two images padded on the right, as a batch of mixed sizes is
    targets = [{"labels": torch.randint(1, 91, (3,), device=device),
                "boxes": torch.rand(3, 4, device=device) * 0.5 + 0.25} for _ in range(4)]

    def loss_of(m: torch.nn.Module) -> torch.Tensor:
        outputs = m(images, mask)
        outputs = {k: v.float() if torch.is_tensor(v) else [{a: b.float() for a, b in aux.items()} for aux in v]
                   for k, v in outputs.items()}
        return criterion(outputs, targets)["loss"]
    name = "detr_r50_rpe-2.0-product-ctx-1-k" if gpu else "detr_toy_rpe-2.0-product-ctx-1-k"
    return {"model": name, **_train(model, loss_of, steps, device, dtype)}


def main() -> None:
    """Run both checks and write OUT_DIR/random_train.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--backend", default="triton")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    # On a CPU the Triton kernels only run interpreted (far too slow at any model size): SDPA stands in.
    backend = args.backend if device.type == "cuda" or args.backend != "triton" else "sdpa"
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    results = {"device": str(device), "backend": backend, "dtype": str(dtype)}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, check in (("deit", deit_check), ("detr", detr_check)):
        try:
            results[name] = check(backend, device, dtype, args.steps)
        except Exception as e:  # one check failing must not hide the other's result
            results[name] = {"error": f"{type(e).__name__}: {e}"}
        print(name, json.dumps({k: v for k, v in results[name].items() if k != "losses"}))
        (args.out / "random_train.json").write_text(json.dumps(results, indent=1))  # after each: time limits


if __name__ == "__main__":
    main()
