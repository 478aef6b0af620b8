"""Models: DeiT with iRPE on timm (importing ablate.models.deit registers the names of ablate.models.registry
with timm) and DETR with iRPE in its encoder (ablate.models.detr)."""
