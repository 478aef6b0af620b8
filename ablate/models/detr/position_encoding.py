"""Absolute position encodings of DETR's feature map: sine, learned, or none (zeros)."""
import math

import torch
from torch import Tensor, nn


class PositionEmbeddingSine(nn.Module):
    """DETR's 2-D sine encoding; coordinates count valid pixels only, so padding does not move them."""

    def __init__(self, num_pos_feats: int, temperature: float = 10000.0, normalize: bool = True):
        super().__init__()
        self.num_pos_feats = num_pos_feats
        self.temperature = temperature
        self.normalize = normalize

    def forward(self, mask: Tensor) -> Tensor:
        """(B, H, W) padding mask (True = padded) -> (B, 2 * num_pos_feats, H, W); first half y, second x."""
        valid = (~mask).float()
        y = valid.cumsum(1)
        x = valid.cumsum(2)
        if self.normalize:
            # Divide by the valid extent of each row/column so coordinates span (0, 2*pi] per image.
            y = y / (y[:, -1:, :] + 1e-6) * 2 * math.pi
            x = x / (x[:, :, -1:] + 1e-6) * 2 * math.pi
        exponent = 2 * torch.div(torch.arange(self.num_pos_feats, device=mask.device), 2, rounding_mode="floor")
        dim_t = self.temperature ** (exponent.float() / self.num_pos_feats)
        pos_x = x[..., None] / dim_t
        pos_y = y[..., None] / dim_t
        # Even channels take sin, odd take cos, interleaved as (sin, cos) pairs.
        pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=4).flatten(3)
        pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=4).flatten(3)
        return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


class PositionEmbeddingLearned(nn.Module):
    """Learned row and column embeddings (up to 50 x 50 feature maps), concatenated (column first)."""

    max_size = 50

    def __init__(self, num_pos_feats: int):
        super().__init__()
        self.row_embed = nn.Embedding(self.max_size, num_pos_feats)
        self.col_embed = nn.Embedding(self.max_size, num_pos_feats)
        nn.init.uniform_(self.row_embed.weight)
        nn.init.uniform_(self.col_embed.weight)

    def forward(self, mask: Tensor) -> Tensor:
        """(B, H, W) padding mask -> (B, 2 * num_pos_feats, H, W)."""
        batch, height, width = mask.shape
        if height > self.max_size or width > self.max_size:
            raise ValueError(f"learned position embedding supports feature maps up to {self.max_size}x"
                             f"{self.max_size}, got {height}x{width}")
        cols = self.col_embed(torch.arange(width, device=mask.device))
        rows = self.row_embed(torch.arange(height, device=mask.device))
        pos = torch.cat([cols[None].expand(height, -1, -1), rows[:, None].expand(-1, width, -1)], dim=-1)
        return pos.permute(2, 0, 1)[None].expand(batch, -1, -1, -1)


class PositionEmbeddingNone(nn.Module):
    """No absolute position information (Table 6 rows 2 and 4): an all-zero encoding."""

    def __init__(self, num_pos_feats: int):
        super().__init__()
        self.num_pos_feats = num_pos_feats

    def forward(self, mask: Tensor) -> Tensor:
        """(B, H, W) padding mask -> zeros of shape (B, 2 * num_pos_feats, H, W)."""
        batch, height, width = mask.shape
        return torch.zeros(batch, 2 * self.num_pos_feats, height, width, device=mask.device)


POSITION_ENCODINGS = {"sine": PositionEmbeddingSine, "learned": PositionEmbeddingLearned, "none": PositionEmbeddingNone}


def build_position_encoding(kind: str, hidden_dim: int) -> nn.Module:
    """The absolute position encoding named by `kind` (sine | learned | none) for a hidden_dim transformer."""
    if kind not in POSITION_ENCODINGS:
        raise ValueError(f"position_embedding must be one of {sorted(POSITION_ENCODINGS)}, got {kind!r}")
    return POSITION_ENCODINGS[kind](hidden_dim // 2)
