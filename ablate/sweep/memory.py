"""How much GPU memory one classification run takes, estimated from its config before anything loads.

    CUDA context + 16 bytes a parameter (fp32 weights, gradients, AdamW's two moments) + 1.2 x activations

Activations are what autograd keeps for the backward pass, per image and block: 17 floats per token and
channel (measured: 16.7 on deit_pico and deit_tiny, whose plain attention is fused and keeps no N x N
matrix), plus 5 per head and token pair with an RPE (its attention is not fused: measured 2.6 for
contextual iRPE on K and 5.2 on Q, K and V on deit_pico, 2.4 on Q, K, V on deit_tiny at 224px, where
the bucket tables are smaller than N x N). Measured on the CPU as the bytes of the tensors autograd
saves (tests/test_gpu_sharing.py); the x1.2 leaves room for the caching allocator's rounding. The CUDA
context of a process is assumed to be 0.5 GiB (a typical figure for CUDA 12 with lazy module loading,
not measured here). Encodings that add a term per token pair (ablate.pe.registry: pair_terms) count as
RPE; rotary ones and PEG do not. An in-memory dataset also lives on the GPU, not counted here: 55 MiB for
all of Fashion-MNIST, small beside the CUDA context.
"""
from dataclasses import dataclass

from ablate.data.options import image_size
from ablate.engine.resources import PLACED, gpu_ids
from ablate.models.registry import MODELS
from ablate.pe.registry import ENCODINGS

CUDA_CONTEXT = 512 * 2 ** 20  # bytes, assumed
STATE_BYTES = 16  # per parameter: fp32 weights, gradients, AdamW exp_avg and exp_avg_sq
TOKEN_FLOATS = 17  # saved floats per image, block, token and channel
PAIR_FLOATS = 5  # saved floats per image, block, head and token pair when attention is not fused (RPE)
SLACK = 1.2


@dataclass(frozen=True)
class RunMemory:
    """The estimate of one run's GPU memory, in bytes, by part."""

    context: int
    state: int
    activations: int
    batch: int  # the training batch the activations are for

    @property
    def total(self) -> int:
        """Everything together."""
        return self.context + self.state + self.activations


def parameters(arch: dict, num_classes: int, learned_pos: bool) -> int:
    """A ViT's parameter count from its dimensions (iRPE's bucket tables, at most a tenth of a small model's,
    left out)."""
    d, depth, patch = arch["embed_dim"], arch["depth"], arch["patch_size"]
    height, width = image_size(arch["img_size"])
    tokens = (height // patch) * (width // patch) + 1
    hidden = int(d * arch["mlp_ratio"])
    block = 4 * d * d + 4 * d + 2 * d * hidden + hidden + d + 4 * d  # qkv + proj, fc1 + fc2, two norms
    return (depth * block + patch * patch * arch.get("in_chans", 3) * d + d + d  # blocks, patch embed, class token
            + (tokens * d if learned_pos else 0) + 2 * d + d * num_classes + num_classes)


def run_memory(config: dict) -> RunMemory | None:
    """The estimate for a run's resolved config; None for models it does not cover (DETR)."""
    name = config["model"].get("name")
    if config.get("task") != "classification" or name not in MODELS:
        return None
    arch = MODELS[name]
    d, depth, heads = arch["embed_dim"], arch["depth"], arch["num_heads"]
    height, width = image_size(config["data"]["img_size"])
    tokens = (height // arch["patch_size"]) * (width // arch["patch_size"]) + 1
    unfused = config["rpe"]["method"] != "none" or "rpe" in arch or ENCODINGS[config["pe"]["name"]].pair_terms
    floats = TOKEN_FLOATS * tokens * d + (PAIR_FLOATS * heads * tokens ** 2 if unfused else 0)
    params = parameters({**arch, "img_size": config["data"]["img_size"]}, config["data"]["num_classes"],
                        config["pe"]["absolute"] == "learned")
    return RunMemory(CUDA_CONTEXT, STATE_BYTES * params,
                     int(SLACK * 4 * floats * depth * config["train"]["batch_size"]), config["train"]["batch_size"])


def gpu_plan(configs: list[dict], workers: int) -> str | None:
    """The plan's line on GPU memory: runs side by side per GPU and the memory each takes (the sweep's
    largest); None when no run goes to a GPU."""
    gpus = len(gpu_ids())
    configs = [c for c in configs if c["runtime"]["device"] in PLACED]
    if not gpus or not configs:
        return None
    estimates = [run_memory(c) for c in configs]
    side_by_side = -(-min(workers, len(configs)) // gpus)
    where = f"{gpus} GPUs" if gpus > 1 else "1 GPU"
    if any(e is None for e in estimates):
        return f"on {where}: {side_by_side} runs side by side per GPU (memory not estimated for these models)"
    worst = max(estimates, key=lambda e: e.total)
    gib = 2 ** 30
    return (f"on {where}: {side_by_side} runs side by side per GPU, about {worst.total / gib:.2f} GiB each, "
            f"{side_by_side * worst.total / gib:.1f} GiB together (estimate: CUDA context {worst.context / gib:.1f} "
            f"GiB assumed, weights and AdamW {worst.state / 2 ** 20:.0f} MiB, fp32 activations "
            f"{worst.activations / 2 ** 20:.0f} MiB at batch {worst.batch})")
