"""Models: importing this registers the DeiT-with-iRPE names in timm."""
from ablate.models import deit  # noqa: F401  (registers timm entrypoints)
