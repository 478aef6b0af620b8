"""No encoding besides the absolute one and iRPE: every layer's slot stays empty."""
from ablate.pe.interface import ModelEncoding


def build(name: str, dim: int, num_heads: int, depth: int, prefix: int, grid: tuple[int, int]) -> ModelEncoding:
    """Nothing in any layer."""
    return ModelEncoding([None] * depth)
