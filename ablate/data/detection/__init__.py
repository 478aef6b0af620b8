"""Detection data: COCO-format sets, DETR augmentations, padded batches, the composite real-crop set."""
