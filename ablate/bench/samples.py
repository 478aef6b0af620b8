"""Image folders (<root>/{train,val}/<class>/<image>) written from real images that ship with installed
packages, deterministic from a seed: the own-data study in the README, the data benchmark and the tests.

- shifted_fashion: Fashion-MNIST items, tinted, at random positions on a wider black canvas (28 x 36 by
  default): small non-square RGB images whose content moves, saved as PNG.
- photo_crops: an ImageNet-style folder of JPEGs 224-400 px a side, random crops of scikit-image's bundled
  photos, one class per photo.

    python -m ablate.bench.samples shifted_fashion DIR    # 4,000 + 1,000 PNGs, 28 x 36, 10 classes
    python -m ablate.bench.samples photo_crops DIR        # 1,600 + 400 JPEGs, 10 classes
"""
from pathlib import Path

import numpy as np
from PIL import Image

from ablate.data.fashion_mnist import load_fashion_mnist

FASHION_CLASSES = ("tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")
PHOTOS = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "hubble_deep_field",
          "immunohistochemistry", "retina", "cell")


def shifted_fashion(root: str | Path, fashion_root: str | Path, n_train: int = 4000, n_val: int = 1000,
                    canvases: tuple[tuple[int, int], ...] = ((28, 36),), classes: tuple[int, ...] = tuple(range(10)),
                    seed: int = 0) -> Path:
    """Write Fashion-MNIST items of `classes` at random positions on canvases (H, W) drawn from `canvases`."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for split, source, count in (("train", "train", n_train), ("val", "val", n_val)):
        images, labels = load_fashion_mnist(fashion_root, source)
        keep = np.flatnonzero(np.isin(labels.numpy(), classes))[:count]
        for i in keep:
            item, label = images[i, 0].numpy(), int(labels[i])
            height, width = canvases[rng.integers(len(canvases))]
            top, left = rng.integers(0, height - 27), rng.integers(0, width - 27)
            canvas = np.zeros((height, width, 3), dtype=np.float32)
            canvas[top:top + 28, left:left + 28] = item[:, :, None] * rng.uniform(0.4, 1.0, 3)
            folder = root / split / FASHION_CLASSES[label]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(canvas.round().astype(np.uint8)).save(folder / f"{i:05d}.png")
    return root


def photo_crops(root: str | Path, n_train: int = 1600, n_val: int = 400, sides: tuple[int, int] = (224, 400),
                seed: int = 0) -> Path:
    """Write JPEGs of random size (each side in `sides`): random crops of one of PHOTOS, the photo's name as class."""
    import skimage.data

    rng = np.random.default_rng(seed)
    photos = [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in PHOTOS]
    root = Path(root)
    for split, count in (("train", n_train), ("val", n_val)):
        for i in range(count):
            label = i % len(PHOTOS)
            photo = photos[label]
            side = rng.uniform(0.4, 1.0) * min(photo.size)
            width, height = (int(side * rng.uniform(0.75, 1.0)), int(side)) if rng.random() < 0.5 else \
                (int(side), int(side * rng.uniform(0.75, 1.0)))
            left, top = rng.integers(0, photo.width - width + 1), rng.integers(0, photo.height - height + 1)
            out = tuple(int(s) for s in rng.integers(sides[0], sides[1] + 1, 2))
            crop = photo.crop((left, top, left + width, top + height)).resize(out, Image.BILINEAR)
            folder = root / split / PHOTOS[label]
            folder.mkdir(parents=True, exist_ok=True)
            crop.save(folder / f"{i:05d}.jpg", quality=90)
    return root


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write a sample image folder (defaults as in the README).")
    parser.add_argument("kind", choices=("shifted_fashion", "photo_crops"))
    parser.add_argument("root", type=Path)
    parser.add_argument("--fashion-root", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    if args.kind == "shifted_fashion":
        shifted_fashion(args.root, args.fashion_root)
    else:
        photo_crops(args.root)
    print(f"wrote {sum(1 for p in args.root.rglob('*') if p.is_file())} images under {args.root}")
