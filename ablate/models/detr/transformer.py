"""DETR's encoder-decoder transformer (post-norm), with iRPE in every encoder self-attention."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ablate.models.detr.attention import RPESelfAttention
from ablate.rpe.config import RPEConfig
from ablate.pe.interface import ModelEncoding


class EncoderLayer(nn.Module):
    """Self-attention (q = k = src + pos, v = src) then a ReLU feed-forward, each followed by add & norm."""

    def __init__(self, dim: int, nheads: int, dim_feedforward: int, dropout: float, rpe: RPEConfig | None,
                 attn_backend: str):
        super().__init__()
        self.self_attn = RPESelfAttention(dim, nheads, dropout, rpe, attn_backend)
        self.linear1 = nn.Linear(dim, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, src: Tensor, pos: Tensor, height: int, width: int, mask: Tensor) -> Tensor:
        """(B, H*W, dim) tokens, their position encoding and padding mask -> (B, H*W, dim)."""
        src = self.norm1(src + self.dropout1(self.self_attn(src + pos, src, height, width, mask)))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(src))))
        return self.norm2(src + self.dropout2(ffn))


class DecoderLayer(nn.Module):
    """Query self-attention, cross-attention to the memory, feed-forward; each followed by add & norm."""

    def __init__(self, dim: int, nheads: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, nheads, dropout=dropout, batch_first=True)
        self.multihead_attn = nn.MultiheadAttention(dim, nheads, dropout=dropout, batch_first=True)
        self.linear1 = nn.Linear(dim, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(self, tgt: Tensor, memory: Tensor, mask: Tensor, pos: Tensor, query_pos: Tensor) -> Tensor:
        """(B, Q, dim) queries attend to themselves, then to (B, H*W, dim) memory -> (B, Q, dim)."""
        q = k = tgt + query_pos
        tgt = self.norm1(tgt + self.dropout1(self.self_attn(q, k, tgt, need_weights=False)[0]))
        attended = self.multihead_attn(tgt + query_pos, memory + pos, memory, key_padding_mask=mask,
                                       need_weights=False)[0]
        tgt = self.norm2(tgt + self.dropout2(attended))
        ffn = self.linear2(self.dropout(F.relu(self.linear1(tgt))))
        return self.norm3(tgt + self.dropout3(ffn))


class Encoder(nn.Module):
    """A stack of encoder layers (post-norm, so no final norm)."""

    def __init__(self, layers: list[EncoderLayer]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, src: Tensor, pos: Tensor, height: int, width: int, mask: Tensor) -> Tensor:
        """Run every layer on the padded batch's H x W grid."""
        for layer in self.layers:
            src = layer(src, pos, height, width, mask)
        return src


class Decoder(nn.Module):
    """A stack of decoder layers whose every output is normalised by a shared final norm (auxiliary losses)."""

    def __init__(self, layers: list[DecoderLayer], dim: int):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tgt: Tensor, memory: Tensor, mask: Tensor, pos: Tensor, query_pos: Tensor) -> Tensor:
        """-> (num_layers, B, Q, dim), one normalised output per layer."""
        outputs = []
        for layer in self.layers:
            tgt = layer(tgt, memory, mask, pos, query_pos)
            outputs.append(self.norm(tgt))
        return torch.stack(outputs)


class Transformer(nn.Module):
    """DETR's transformer: encode the flattened feature map, decode learned queries against it."""

    def __init__(self, d_model: int = 256, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 enc_rpe: RPEConfig | None = None, attn_backend: str = "auto", enc_pe: ModelEncoding | None = None):
        super().__init__()
        self.d_model = d_model
        self.encoder = Encoder([EncoderLayer(d_model, nhead, dim_feedforward, dropout, enc_rpe, attn_backend)
                                for _ in range(num_encoder_layers)])
        self.decoder = Decoder([DecoderLayer(d_model, nhead, dim_feedforward, dropout)
                                for _ in range(num_decoder_layers)], d_model)
        # DETR's initialisation: xavier on every matrix, the iRPE lookup tables included.
        for param in self.parameters():
            if param.dim() > 1:
                nn.init.xavier_uniform_(param)
        # Another encoding joins the encoder's self-attention after that: it keeps its own initialisation
        # (RoPE-Mixed's frequencies are no matrix to xavier, bias tables start at zero as iRPE's do in DeiT).
        if enc_pe is not None:
            if enc_pe.mixers:
                raise ValueError("DETR's encoder takes no token mixer (PEG)")
            for name, module in enc_pe.modules.items():
                self.encoder.add_module(name, module)
            for layer, encoding in zip(self.encoder.layers, enc_pe.layers):
                if encoding is not None:
                    layer.self_attn.set_encoding(encoding)

    def encode(self, src: Tensor, mask: Tensor, pos: Tensor) -> Tensor:
        """(B, dim, H, W) features, (B, H, W) mask, (B, dim, H, W) position -> (B, H*W, dim) memory."""
        height, width = src.shape[-2:]
        return self.encoder(src.flatten(2).transpose(1, 2), pos.flatten(2).transpose(1, 2), height, width,
                            mask.flatten(1))

    def forward(self, src: Tensor, mask: Tensor, query_embed: Tensor, pos: Tensor) -> Tensor:
        """Features, mask, (Q, dim) query embeddings, position -> (num_decoder_layers, B, Q, dim)."""
        memory = self.encode(src, mask, pos)
        # repeat, not expand: a view of a parameter made under no_grad breaks autograd hooks (FLOP counting).
        query_pos = query_embed[None].repeat(src.shape[0], 1, 1)
        return self.decoder(torch.zeros_like(query_pos), memory, mask.flatten(1),
                            pos.flatten(2).transpose(1, 2), query_pos)
