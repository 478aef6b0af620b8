"""How an image becomes a model input: the recipe's training augmentation and the evaluation view.

The training recipe (conf/train/*.yaml) chooses:
- train.crop, the crop policy (ablate.data.options.CROPS): rrc, a random resized crop (a box covering a
  fraction train.crop_scale of the image, aspect ratio 3/4 to 4/3, resized to img_size: DeiT on ImageNet);
  pad, resize to img_size then shift by up to train.crop_padding pixels with zero fill (small images);
  none, resize to img_size;
- train.hflip (flip probability), train.randaug (timm's RandAugment string), train.reprob (random erasing).
Mixup and cutmix mix whole batches; the classification task applies them (timm's Mixup).

One implementation for both data paths: pixels stay uint8 (B, C, H, W) until normalisation, and a decoded
image is a batch of one. Every random draw is per image, from the generator passed in (the in-memory
loader's, seeded per epoch) or from torch's global RNG (which DataLoader seeds in each worker). The order is
timm's: geometry, flip, RandAugment, normalisation, random erasing.

Evaluation resizes to img_size and cuts nothing away; eval.crop_pct asks for the ImageNet protocol (resize
to img_size / crop_pct, centre-crop img_size). It is a torchvision transform: on decoded files (PIL images)
it is PIL's resize, exactly the official DeiT evaluation; on in-memory uint8 tensors, torch's.
"""
import math

import numpy as np
import torch
from PIL import Image
from timm.data import auto_augment, rand_augment_transform
from timm.data.random_erasing import RandomErasing
from torchvision.transforms import v2
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as F

RATIO = (3 / 4, 4 / 3)  # aspect ratios (w / h) of random resized crop boxes: timm's and torchvision's
ATTEMPTS = 10  # boxes drawn per image; the first that fits is kept, else a centre crop (torchvision's rule)
INTERPOLATION = InterpolationMode.BICUBIC  # DeiT's training interpolation


def resize(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A uint8 batch (B, C, h, w) resized to size (H, W), bicubic with antialiasing; unchanged if already so."""
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.resize(images, list(size), interpolation=INTERPOLATION, antialias=True)


def crop_boxes(height: int, width: int, count: int, scale: tuple[float, float],
               generator: torch.Generator | None = None) -> torch.Tensor:
    """(count, 4) random resized crop boxes (top, left, h, w) in a height x width image, one per image."""
    area = torch.empty(count, ATTEMPTS).uniform_(*scale, generator=generator) * (height * width)
    ratio = torch.empty(count, ATTEMPTS).uniform_(math.log(RATIO[0]), math.log(RATIO[1]), generator=generator).exp()
    w, h = (area * ratio).sqrt().round(), (area / ratio).sqrt().round()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = fits.int().argmax(1)
    rows = torch.arange(count)
    h, w = h[rows, first], w[rows, first]
    top = (torch.rand(count, generator=generator) * (height - h + 1)).floor()
    left = (torch.rand(count, generator=generator) * (width - w + 1)).floor()
    # No attempt fits (only with extreme scales or aspects): the centred largest box of an allowed aspect.
    aspect = min(max(width / height, RATIO[0]), RATIO[1])
    fh, fw = min(height, round(width / aspect)), min(width, round(height * aspect))
    fallback = torch.tensor([(height - fh) // 2, (width - fw) // 2, fh, fw], dtype=h.dtype)
    boxes = torch.stack([top, left, h, w], 1)
    return torch.where(fits.any(1)[:, None], boxes, fallback).long()


def translate(images: torch.Tensor, padding: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of a (B, C, H, W) batch shifted by up to padding pixels each way, zero fill (pad, random crop)."""
    b, _, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(images.device)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(images.device)
    rows = (dy[:, None] + torch.arange(h, device=images.device))[:, :, None]
    cols = (dx[:, None] + torch.arange(w, device=images.device))[:, None, :]
    return padded[torch.arange(b, device=images.device)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)


def _posterize(image: Image.Image, bits_to_keep: int, **kwargs) -> Image.Image:
    """timm's posterize, keeping 0 bits as a black image: what Pillow did before 13, which refuses 0 bits
    (RandAugment m9 with mstd 0.5 reaches the top level, 0 bits, about 2% of the times it posterizes)."""
    if bits_to_keep < 1:
        return Image.new(image.mode, image.size)
    return auto_augment.posterize(image, bits_to_keep, **kwargs)


def rand_augment(config: str, size: tuple[int, int], mean: tuple[float, ...]) -> auto_augment.RandAugment:
    """timm's RandAugment (PIL, per image) with timm's settings for this size: translations up to 45% of the
    shorter side, the dataset mean as fill (one value per channel), bicubic resampling."""
    hparams = {"translate_const": int(min(size) * 0.45), "interpolation": Image.BICUBIC,
               "img_mean": tuple(min(255, round(255 * m)) for m in mean)}
    transform = rand_augment_transform(config, hparams)
    for op in transform.ops:
        if op.aug_fn is auto_augment.posterize:
            op.aug_fn = _posterize
    return transform


def _pil_apply(transform, image: torch.Tensor) -> torch.Tensor:
    """Run a PIL transform on one (C, H, W) uint8 tensor."""
    array = image.permute(1, 2, 0).numpy()
    pil = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    out = torch.from_numpy(np.asarray(transform(pil)).copy())
    return out[None] if out.ndim == 2 else out.permute(2, 0, 1)


class Augment:
    """A recipe's training augmentation for images of size (H, W): crop policy, flip, RandAugment, erasing.

    Batches may live on any device (the in-memory loader keeps a small set on the run's GPU): the random draws
    come from the CPU generator either way, so a run sees the same crops and flips on a GPU as on the CPU, and
    only RandAugment (PIL) takes the images through the host.
    """

    def __init__(self, size: tuple[int, int], crop: str = "none", crop_scale: tuple[float, float] = (0.08, 1.0),
                 crop_padding: int = 0, hflip: float = 0.0, randaug: str | None = None, reprob: float = 0.0,
                 mean: tuple[float, ...] = (0.5,), device: torch.device | str = "cpu"):
        self.size, self.crop, self.crop_scale, self.crop_padding = tuple(size), crop, tuple(crop_scale), crop_padding
        self.hflip = hflip
        self.randaug = rand_augment(randaug, size, mean) if randaug else None
        self.erasing = RandomErasing(probability=reprob, mode="pixel", device=str(device)) if reprob > 0 else None

    def pixels(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The augmented uint8 batch (B, C, H, W) of a uint8 batch (B, C, h, w) of any size."""
        if self.crop == "rrc":
            boxes = crop_boxes(*images.shape[-2:], len(images), self.crop_scale, generator).tolist()
            images = torch.stack([F.resized_crop(image, *box, list(self.size), interpolation=INTERPOLATION,
                                                 antialias=True) for image, box in zip(images, boxes)])
        else:
            images = resize(images, self.size)
            if self.crop == "pad" and self.crop_padding:
                images = translate(images, self.crop_padding, generator)
        if self.hflip:
            flip = (torch.rand(len(images), generator=generator) < self.hflip).to(images.device)
            images = torch.where(flip[:, None, None, None], images.flip(-1), images)
        if self.randaug is not None:
            images = torch.stack([_pil_apply(self.randaug, image) for image in images.cpu()]).to(images.device)
        return images

    def erase(self, inputs: torch.Tensor) -> torch.Tensor:
        """Random erasing of normalised inputs, (C, H, W) or (B, C, H, W), where timm applies it."""
        return self.erasing(inputs) if self.erasing is not None else inputs


class Normalize:
    """uint8 pixels (..., C, H, W) to model inputs: (x / 255 - mean) / std per channel."""

    def __init__(self, mean: list[float], std: list[float], device: torch.device | str = "cpu"):
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(-1, 1, 1) * 255
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(-1, 1, 1) * 255

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels.float() - self.mean) / self.std


def eval_view(size: tuple[int, int], crop_pct: float | None, interpolation: str) -> v2.Transform:
    """Resize to size (nothing cut away); with crop_pct, resize to size / crop_pct and centre-crop size."""
    mode = InterpolationMode(interpolation)
    if crop_pct is None:
        return v2.Resize(list(size), interpolation=mode, antialias=True)
    height, width = size
    # A square size resizes the shorter side (256 for 224: the aspect is kept), as the official transform.
    scale = int(height / crop_pct) if height == width else [int(height / crop_pct), int(width / crop_pct)]
    return v2.Compose([v2.Resize(scale, interpolation=mode, antialias=True), v2.CenterCrop(list(size))])
