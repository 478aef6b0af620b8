"""The DETR model: backbone -> 1x1 projection -> transformer -> class and box heads per query."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ablate.models.detr.backbone import Joiner
from ablate.models.detr.box_ops import box_cxcywh_to_xyxy
from ablate.models.detr.transformer import Transformer


class MLP(nn.Module):
    """A plain multi-layer perceptron with ReLU between layers (DETR's box head)."""

    def __init__(self, input_dim: int, hidden_dim: int, output_dim: int, num_layers: int):
        super().__init__()
        dims = [input_dim] + [hidden_dim] * (num_layers - 1) + [output_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: Tensor) -> Tensor:
        """Apply the layers, ReLU after all but the last."""
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


class DETR(nn.Module):
    """Set prediction: num_queries (class logits incl. no-object, normalised cxcywh box) per image."""

    def __init__(self, backbone: Joiner, transformer: Transformer, num_classes: int, num_queries: int,
                 aux_loss: bool = True):
        super().__init__()
        hidden = transformer.d_model
        self.num_queries = num_queries
        self.transformer = transformer
        self.class_embed = nn.Linear(hidden, num_classes + 1)
        self.bbox_embed = MLP(hidden, hidden, 4, 3)
        self.query_embed = nn.Embedding(num_queries, hidden)
        self.input_proj = nn.Conv2d(backbone.num_channels, hidden, kernel_size=1)
        self.backbone = backbone
        self.aux_loss = aux_loss

    def forward(self, images: Tensor, mask: Tensor | None = None) -> dict:
        """(B, 3, H, W) padded images and (B, H, W) mask (True = padding; None = no padding) -> predictions
        of the last decoder layer, plus those of the earlier layers under "aux_outputs" when aux_loss is on."""
        if mask is None:
            mask = torch.zeros(images.shape[0], *images.shape[-2:], dtype=torch.bool, device=images.device)
        features, feature_mask, pos = self.backbone(images, mask)
        hidden = self.transformer(self.input_proj(features), feature_mask, self.query_embed.weight, pos)
        logits = self.class_embed(hidden)
        boxes = self.bbox_embed(hidden).sigmoid()
        out = {"pred_logits": logits[-1], "pred_boxes": boxes[-1]}
        if self.aux_loss:
            out["aux_outputs"] = [{"pred_logits": a, "pred_boxes": b} for a, b in zip(logits[:-1], boxes[:-1])]
        return out


@torch.no_grad()
def postprocess(outputs: dict, image_sizes: Tensor) -> list[dict[str, Tensor]]:
    """Predictions -> per image scores, labels and absolute xyxy boxes; image_sizes is (B, 2) as (h, w)."""
    prob = outputs["pred_logits"].softmax(-1)[..., :-1]
    scores, labels = prob.max(-1)
    height, width = image_sizes.unbind(1)
    scale = torch.stack([width, height, width, height], dim=1).to(prob.dtype)
    boxes = box_cxcywh_to_xyxy(outputs["pred_boxes"]) * scale[:, None, :]
    return [{"scores": s, "labels": l, "boxes": b} for s, l, b in zip(scores, labels, boxes)]
