"""The torch-free side of the data options, for plan-time checks: data.img_size as (height, width), the
crop policies a training recipe can choose and the evaluation's interpolations (applied by ablate.data.augment)."""
from collections.abc import Sequence

CROPS = ("rrc", "pad", "none")  # random resized crop | resize, then pad-and-crop translation | resize only
# eval.interpolation: torchvision's modes that resize decoded files (PIL) and in-memory uint8 tensors alike
INTERPOLATIONS = ("bicubic", "bilinear", "nearest", "nearest-exact")


def image_size(value: int | Sequence[int]) -> tuple[int, int]:
    """(H, W) of data.img_size; ValueError (one line) unless it is a positive int or two of them."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value, value
    if (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        return int(value[0]), int(value[1])
    raise ValueError(f"data.img_size={value!r}: expected one positive number (square) or [height, width], "
                     "e.g. data.img_size=[28,36]")


def check_augment(crop: str, crop_scale: Sequence[float], crop_padding: int) -> None:
    """ValueError (one line) for a crop policy the augmentation cannot apply."""
    if crop not in CROPS:
        raise ValueError(f"train.crop={crop!r}: expected one of {', '.join(CROPS)}")
    if len(crop_scale) != 2 or not 0 < crop_scale[0] <= crop_scale[1] <= 1:
        raise ValueError(f"train.crop_scale={list(crop_scale)}: expected [low, high] with 0 < low <= high <= 1 "
                         "(the fraction of the image a random resized crop covers), e.g. [0.08, 1.0]")
    if crop_padding < 0:
        raise ValueError(f"train.crop_padding={crop_padding}: expected a number of pixels >= 0")
