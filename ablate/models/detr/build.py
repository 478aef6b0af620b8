"""Builders that turn plain settings into DETR, its criterion, and its RPE configuration."""
from ablate.models.detr.backbone import Backbone, Joiner
from ablate.models.detr.criterion import SetCriterion
from ablate.models.detr.detr import DETR
from ablate.models.detr.matcher import HungarianMatcher
from ablate.models.detr.position_encoding import build_position_encoding
from ablate.models.detr.transformer import Transformer
from ablate.rpe.config import RPEConfig, flag_config
from ablate.pe.registry import build_encoding


def build_detr(enc_rpe2d: str | RPEConfig | None = None, num_classes: int = 91, backbone: str = "resnet50",
               backbone_weights: str | None = None, output_stride: int = 32, train_backbone: bool = True,
               backbone_from_scratch: bool = False, backbone_width: int | None = None,
               position_embedding: str = "sine", hidden_dim: int = 256, nheads: int = 8, enc_layers: int = 6,
               dec_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1, num_queries: int = 100,
               aux_loss: bool = True, attn_backend: str = "auto", pe: str = "none", pe_options: dict | None = None,
               pe_grid: tuple[int, int] = (25, 25)) -> DETR:
    """DETR with iRPE and another encoding (ablate.pe.registry) in the encoder self-attention (defaults: the
    authors' R50 model). pe_grid is the nominal feature-map grid, the window of a bias table."""
    rpe = flag_config(enc_rpe2d)
    if rpe is not None and rpe.prefix != 0:
        raise ValueError(f"DETR has no prefix tokens: RPE prefix must be 0, got {rpe.prefix}")
    joiner = Joiner(Backbone(backbone, train_backbone, output_stride, backbone_weights, backbone_from_scratch,
                             backbone_width),
                    build_position_encoding(position_embedding, hidden_dim))
    enc_pe = build_encoding(pe, hidden_dim, nheads, enc_layers, 0, pe_grid, pe_options)
    transformer = Transformer(hidden_dim, nheads, enc_layers, dec_layers, dim_feedforward, dropout, rpe, attn_backend,
                              enc_pe)
    return DETR(joiner, transformer, num_classes, num_queries, aux_loss)


def build_criterion(num_classes: int, eos_coef: float = 0.1, cost_class: float = 1.0, cost_bbox: float = 5.0,
                    cost_giou: float = 2.0, ce_weight: float = 1.0, bbox_weight: float = 5.0,
                    giou_weight: float = 2.0) -> SetCriterion:
    """DETR's set criterion with its Hungarian matcher (DETR's default weights)."""
    matcher = HungarianMatcher(cost_class, cost_bbox, cost_giou)
    return SetCriterion(num_classes, matcher, eos_coef, ce_weight, bbox_weight, giou_weight)
