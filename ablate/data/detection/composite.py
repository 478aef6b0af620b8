"""The composite real-crop detection set: real Fashion-MNIST items pasted onto crops of real photos.

Backgrounds are random crops of the photos and textures bundled with scikit-image; each scene gets
1..max_objects items (their own intensity as alpha, a colour contrasting with the background), never
overlapping; the box is the tight box of the pasted item. Train scenes use Fashion-MNIST's train split,
val scenes its test split. Everything is drawn from one seed, so a cache is fully described by its
parameters; it is written once as PNG images plus COCO JSON and reused.
"""
import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from PIL import Image
from skimage import data as skdata

from ablate.data.detection.composite_spec import CompositeSpec
from ablate.data.fashion_mnist import load_fashion_mnist
from ablate.data.registry import missing_fashion_mnist

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# Bundled with scikit-image (no download); greyscale ones are stacked to RGB.
BACKGROUNDS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "hubble_deep_field",
               "immunohistochemistry", "retina", "brick", "grass", "gravel", "moon", "page", "text", "cell", "clock")
SPLIT_SEED_OFFSET = {"train": 0, "val": 1}


def load_backgrounds() -> list[np.ndarray]:
    """The bundled scikit-image photos as (H, W, 3) uint8 arrays."""
    images = []
    for name in BACKGROUNDS:
        img = getattr(skdata, name)()
        images.append(np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3])
    return images


def random_background(rng: np.random.Generator, photos: list[np.ndarray], size: int) -> np.ndarray:
    """A random square crop (side between `size` and the photo's short side) resized to size x size."""
    photo = photos[rng.integers(len(photos))]
    side = int(rng.integers(size, min(photo.shape[:2]) + 1))
    top = int(rng.integers(photo.shape[0] - side + 1))
    left = int(rng.integers(photo.shape[1] - side + 1))
    crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((size, size), Image.BILINEAR)
    return np.asarray(crop, dtype=np.float32)


def overlaps(box: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> bool:
    """Whether an xyxy box touches any of the others (one pixel of margin)."""
    return any(box[0] <= o[2] and o[0] <= box[2] and box[1] <= o[3] and o[1] <= box[3] for o in others)


def compose_scene(rng: np.random.Generator, photos: list[np.ndarray], items: np.ndarray, labels: np.ndarray,
                  spec: CompositeSpec) -> tuple[np.ndarray, list[tuple[int, tuple[int, int, int, int]]]]:
    """One scene: (H, W, 3) uint8 image and its (label, xyxy box) objects."""
    canvas = random_background(rng, photos, spec.image_size)
    objects: list[tuple[int, tuple[int, int, int, int]]] = []
    for _ in range(int(rng.integers(1, spec.max_objects + 1))):
        index = int(rng.integers(len(items)))
        side = int(rng.integers(spec.min_object, spec.max_object + 1))
        alpha = np.asarray(Image.fromarray(items[index]).resize((side, side), Image.BILINEAR), np.float32) / 255
        rows, cols = np.nonzero(alpha > 0.1)
        if len(rows) == 0:
            continue
        # Up to 20 placements; an object that fits nowhere is left out rather than overlapped.
        for _ in range(20):
            y, x = (int(v) for v in rng.integers(spec.image_size - side + 1, size=2))
            box = (x + int(cols.min()), y + int(rows.min()), x + int(cols.max()) + 1, y + int(rows.max()) + 1)
            if not overlaps(box, [b for _, b in objects]):
                break
        else:
            continue
        patch = canvas[y:y + side, x:x + side]
        # A colour far from the local background keeps items visible on bright and dark photos alike.
        bright = patch.mean(axis=(0, 1)) > 127
        colour = np.where(bright, rng.uniform(0, 80, 3), rng.uniform(175, 255, 3)).astype(np.float32)
        canvas[y:y + side, x:x + side] = patch * (1 - alpha[..., None]) + colour * alpha[..., None]
        objects.append((int(labels[index]), box))
    return canvas.round().clip(0, 255).astype(np.uint8), objects


def write_split(folder: Path, split: str, spec: CompositeSpec, photos: list[np.ndarray],
                items: np.ndarray, labels: np.ndarray) -> None:
    """Generate one split's scenes into folder/<split>/ and folder/annotations/<split>.json."""
    rng = np.random.default_rng([spec.seed, SPLIT_SEED_OFFSET[split]])
    (folder / split).mkdir(parents=True)
    images, annotations = [], []
    count = spec.num_train if split == "train" else spec.num_val
    for image_id in range(1, count + 1):
        scene, objects = compose_scene(rng, photos, items, labels, spec)
        file_name = f"{image_id:06d}.png"
        Image.fromarray(scene).save(folder / split / file_name)
        images.append({"id": image_id, "file_name": file_name, "height": spec.image_size, "width": spec.image_size})
        for label, (x0, y0, x1, y1) in objects:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": label + 1,
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0), "iscrowd": 0})
    categories = [{"id": i + 1, "name": name, "supercategory": "fashion"} for i, name in enumerate(CLASSES)]
    coco = {"info": {"description": "composite real-crop detection", "spec": asdict(spec)},
            "images": images, "annotations": annotations, "categories": categories}
    (folder / "annotations" / f"{split}.json").write_text(json.dumps(coco))


def generate_composite(cache_root: str | Path, spec: CompositeSpec, fashion_root: str | Path) -> Path:
    """The folder holding the set for `spec` under cache_root, generating it first if needed."""
    folder = Path(cache_root) / f"composite-{spec.key}"
    if (folder / "spec.json").is_file():
        return folder
    missing = missing_fashion_mnist(fashion_root)
    if missing:
        raise FileNotFoundError(f"Fashion-MNIST files missing for the composite set: {missing[0]} "
                                "(install the Debian package dataset-fashion-mnist)")
    photos = load_backgrounds()
    Path(cache_root).mkdir(parents=True, exist_ok=True)
    # Build in a temporary folder and rename at the end: a crash never leaves a half-written cache.
    tmp = Path(tempfile.mkdtemp(prefix=".composite-", dir=cache_root))
    try:
        (tmp / "annotations").mkdir()
        for split in ("train", "val"):
            items, labels = load_fashion_mnist(fashion_root, split)
            write_split(tmp, split, spec, photos, items[:, 0].numpy(), labels.numpy())
        (tmp / "spec.json").write_text(json.dumps(asdict(spec), indent=2))
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "spec.json").is_file():  # not just another process finishing the same spec first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def split_files(data: DictConfig, split: str) -> tuple[Path, Path]:
    """(image folder, COCO JSON) of a split of the set data describes, generated under data.root on first use."""
    folder = generate_composite(Path(data.root).expanduser(), CompositeSpec.of(data), data.fashion_root)
    return folder / split, folder / "annotations" / f"{split}.json"
