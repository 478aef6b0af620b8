"""A classifier's top-1, top-5 and loss over batches: summed per process (so several processes add up exactly),
then turned into metrics."""
import torch


@torch.no_grad()
def classifier_sums(model: torch.nn.Module, batches, device: torch.device) -> list[float]:
    """[top-1 hits, top-5 hits, summed cross-entropy, images] over all batches, in full precision."""
    model.eval()
    correct1 = correct5 = 0
    loss_sum, n = 0.0, 0
    for images, labels in batches:
        images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
        logits = model(images).float()
        loss_sum += torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        top = logits.topk(min(5, logits.shape[1]), dim=1).indices
        hits = top == labels[:, None]
        correct1 += hits[:, 0].sum().item()
        correct5 += hits.any(dim=1).sum().item()
        n += len(labels)
    return [correct1, correct5, loss_sum, n]


def classifier_metrics(sums: list[float]) -> dict[str, float]:
    """Top-1, top-5 (%) and mean cross-entropy from classifier_sums (added up over processes if several)."""
    correct1, correct5, loss_sum, n = sums
    return {"top1": 100.0 * correct1 / n, "top5": 100.0 * correct5 / n, "loss": loss_sum / n}


def evaluate_classifier(model: torch.nn.Module, batches, device: torch.device) -> dict[str, float]:
    """Top-1, top-5 (%) and mean cross-entropy over all batches."""
    return classifier_metrics(classifier_sums(model, batches, device))
