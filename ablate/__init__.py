"""ablate: ablation studies of relative position encoding in vision transformers."""

__version__ = "0.1.0"
