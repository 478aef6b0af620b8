"""ResNet backbone (timm): DETR's frozen batch norm or trained from scratch; the Joiner adds the position encoding."""
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from timm.layers import freeze_batch_norm_2d
from torch import Tensor, nn


def resnet_widths(width: int | None) -> dict:
    """timm ResNet arguments for stages of width, 2, 4 and 8 times width channels ({} keeps the model's)."""
    return {} if width is None else {"channels": tuple(width * 2 ** i for i in range(4))}


class Backbone(nn.Module):
    """A timm ResNet trunk: DETR's frozen batch norm and frozen stem, or trained whole from scratch."""

    def __init__(self, name: str, train_backbone: bool, output_stride: int = 32, weights: str | None = None,
                 from_scratch: bool = False, width: int | None = None):
        super().__init__()
        if from_scratch and weights is not None:
            raise ValueError("a backbone trained from scratch takes no weights: drop backbone_weights or "
                             "from_scratch")
        # output_stride 16 dilates layer4 instead of striding (DETR's DC5), 8 layer3 as well. timm zero-initialises
        # the last batch norm of each block; frozen at zero it would silence every residual branch for good.
        body = timm.create_model(name, pretrained=False, num_classes=0, global_pool="",
                                 output_stride=output_stride, zero_init_last=from_scratch, **resnet_widths(width))
        if weights is not None:
            load_backbone_weights(body, weights)
        # DETR's frozen statistics and frozen stem assume ImageNet weights; from scratch, batch norm has to
        # learn its statistics and every layer its weights.
        self.body = body if from_scratch else freeze_batch_norm_2d(body)
        for param_name, param in self.body.named_parameters():
            # DETR trains layer2-4 only; the stem and layer1 keep their (ideally pretrained) weights.
            frozen_stem = not from_scratch and not param_name.startswith(("layer2", "layer3", "layer4"))
            if not train_backbone or frozen_stem:
                param.requires_grad_(False)
        self.num_channels = self.body.num_features

    def forward(self, images: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, H, W) images and (B, H, W) padding mask -> last feature map and its downsampled mask."""
        features = self.body.forward_features(images)
        mask = F.interpolate(mask[None].float(), size=features.shape[-2:])[0].bool()
        return features, mask


def load_backbone_weights(body: nn.Module, path: str) -> None:
    """Load ImageNet weights for the trunk from a local file (timm or torchvision ResNet keys; fc ignored)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights file not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = state.get("model", state.get("state_dict", state))
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    missing, unexpected = body.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"backbone weights {path} do not fit the trunk: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")


class Joiner(nn.Sequential):
    """backbone[0] is the trunk, backbone[1] the position encoding (DETR's checkpoint key layout)."""

    def __init__(self, backbone: Backbone, position_encoding: nn.Module):
        super().__init__(backbone, position_encoding)
        self.num_channels = backbone.num_channels

    def forward(self, images: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Images and padding mask -> (features, feature mask, position encoding)."""
        features, mask = self[0](images, mask)
        return features, mask, self[1](mask).to(features.dtype)
