"""ablate: ablation studies of relative position encoding in vision transformers."""

import ablate.models  # noqa: E402,F401  (registers the DeiT-with-iRPE names in timm)

__version__ = "0.1.0"
