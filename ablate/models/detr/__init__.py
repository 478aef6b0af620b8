"""DETR (Carion et al. 2020) with iRPE in the encoder, in the authors' checkpoint layout."""
from ablate.models.detr.build import build_criterion, build_detr
from ablate.models.detr.detr import DETR, postprocess

__all__ = ["DETR", "build_criterion", "build_detr", "postprocess"]
