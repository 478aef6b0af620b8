"""Parameter and multiply-accumulate counts of a model, as reported in the paper's tables."""
import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from ablate.rpe.lookup import site_parts


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not), as in the paper's params column."""
    return sum(p.numel() for p in model.parameters())


def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    # torch's counter knows the CUDA attention kernels but not the CPU one: Q K^T and A V, 2 FLOPs a MAC.
    batch, heads, length, head_dim = query_shape
    keys, value_dim = key_shape[-2], value_shape[-1]
    return 2 * batch * heads * length * keys * (head_dim + value_dim)


_EXTRA_FORMULAS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa_flops}


@torch.no_grad()
def count_macs(model: nn.Module, input_shape: tuple[int, ...], paper_convention: bool = False) -> int:
    """Multiply-accumulates of one forward pass on a single input of `input_shape` (C, H, W).

    torch's FLOP counter counts the matrix products that run (linear, conv, attention, the RPE table
    products); a MAC is two FLOPs; gathers and scatter-adds are free, as in the paper. RPE on V costs us
    L*buckets*head_dim per head; the authors' implementation (and so the paper's tables) multiplies an
    (L, L, head_dim) gathered table instead: `paper_convention=True` counts V that way, for comparison.
    """
    param = next(model.parameters())
    sample = torch.zeros((1, *input_shape), dtype=param.dtype, device=param.device)
    extra: list[int] = []

    def paper_v_cost(module: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
        batch, length, dim = args[0].shape
        for part in site_parts(module.rpe_v):
            extra.append(batch * module.num_heads * length * (dim // module.num_heads) * (length - part.num_buckets))

    hooks = []
    if paper_convention:  # on each attention layer with iRPE on V, whose input is (B, L, dim)
        hooks = [m.register_forward_hook(paper_v_cost) for m in model.modules()
                 if getattr(m, "rpe_v", None) is not None]
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False, custom_mapping=_EXTRA_FORMULAS) as counter:
            model(sample)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return counter.get_total_flops() // 2 + sum(extra)
