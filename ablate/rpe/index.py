"""Index functions: map a relative distance to a bucket offset (paper Eq. 18 and Shaw's clip).

Both return integer offsets in [-b', b'] where b' = int(beta). The piecewise function keeps exact
offsets near the query (|x| <= alpha) and compresses far ones logarithmically up to beta; clip keeps
them exact and saturates at b'.
"""
import math

import torch
from torch import Tensor


def piecewise_index(x: Tensor, alpha: float, beta: float, gamma: float) -> Tensor:
    """Piecewise index g(x) of the paper, as int64, computed in float32 like the authors' code."""
    x = x.float()
    magnitude = x.abs()
    # Far offsets: alpha + log(|x|/alpha) / log(gamma/alpha) * (beta - alpha), rounded, capped at beta.
    far = alpha + torch.log(magnitude / alpha) / math.log(gamma / alpha) * (beta - alpha)
    far = torch.sign(x) * far.round().clamp(max=beta)
    out = torch.where(magnitude <= alpha, x.round(), far)
    # Truncation toward zero turns the float cap beta into the integer saturation int(beta).
    return out.long()


def clip_index(x: Tensor, alpha: float, beta: float, gamma: float) -> Tensor:
    """Clip index h(x) = clamp(round(x), -b', b') of Shaw et al.; alpha and gamma are unused by design."""
    saturation = int(beta)
    return x.float().round().clamp(-saturation, saturation).long()


def index_offsets(index: str, x: Tensor, alpha: float, beta: float, gamma: float) -> Tensor:
    """The named index function ("piecewise" or "clip") of x; chosen by name so that TorchScript compiles it."""
    if index == "clip":
        return clip_index(x, alpha, beta, gamma)
    return piecewise_index(x, alpha, beta, gamma)
