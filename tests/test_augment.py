"""The recipe's augmentation (crop policies, flips, RandAugment, erasing) and the evaluation view."""
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as F

from ablate.data.augment import RATIO, Augment, crop_boxes, eval_view, translate


def marker(height: int, width: int, row: int, col: int, batch: int = 1) -> torch.Tensor:
    """A (batch, 1, H, W) uint8 batch, black but for one bright pixel."""
    image = torch.zeros(batch, 1, height, width, dtype=torch.uint8)
    image[:, 0, row, col] = 255
    return image


def bright(images: torch.Tensor) -> list[tuple[int, int]]:
    """Where each image's brightest pixel is."""
    flat = images[:, 0].flatten(1).argmax(1)
    return [(int(i) // images.shape[-1], int(i) % images.shape[-1]) for i in flat]


def test_random_resized_crop_boxes_follow_scale_and_aspect():
    boxes = crop_boxes(28, 36, 2000, (0.08, 1.0), torch.Generator().manual_seed(0))
    top, left, h, w = boxes.T
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 28).all() and (left + w <= 36).all()
    area, aspect = (h * w).float() / (28 * 36), w.float() / h.float()
    assert area.min() >= 0.05 and area.max() <= 1.0 and area.min() < 0.15 and area.max() > 0.85  # rounding at 28 px
    assert aspect.min() >= RATIO[0] - 0.15 and aspect.max() <= RATIO[1] + 0.15
    assert len({tuple(b) for b in boxes.tolist()}) > 1000  # a box per image, not one per batch


def test_random_resized_crop_falls_back_to_a_centred_box():
    # A 4 x 100 strip cannot hold a 3/4..4/3 box covering 90% of it: the centred 4 x 5 box (aspect 4/3).
    boxes = crop_boxes(4, 100, 3, (0.9, 1.0), torch.Generator().manual_seed(0))
    assert boxes.tolist() == [[0, 47, 4, 5]] * 3


def test_pad_policy_translates_each_image_within_the_padding():
    batch = marker(28, 36, 10, 20, batch=256)
    out = Augment((28, 36), crop="pad", crop_padding=2).pixels(batch, torch.Generator().manual_seed(0))
    assert out.shape == (256, 1, 28, 36) and out.dtype == torch.uint8
    shifts = {(r - 10, c - 20) for r, c in bright(out)}
    assert shifts == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}


def test_translate_fills_with_zeros_at_the_edge():
    out = translate(marker(5, 5, 2, 0, batch=64), 1, torch.Generator().manual_seed(0))
    positions = {tuple(torch.nonzero(o[0]).flatten().tolist()) for o in out}
    assert positions <= {(r, c) for r in (1, 2, 3) for c in (0, 1)} | {()} and () in positions


def test_none_policy_resizes_without_cutting_anything_away():
    # A marker at the right edge of a 28 x 48 image is still there after resizing to 28 x 36.
    out = Augment((28, 36), crop="none").pixels(marker(28, 48, 14, 47), torch.Generator().manual_seed(0))
    assert out.shape == (1, 1, 28, 36) and bright(out)[0][1] >= 34


def test_flips_are_drawn_per_image():
    out = Augment((8, 8), hflip=0.5).pixels(marker(8, 8, 3, 1, batch=64), torch.Generator().manual_seed(0))
    columns = [c for _, c in bright(out)]
    assert set(columns) == {1, 6} and 16 < columns.count(6) < 48


def test_rrc_makes_every_image_of_a_batch_its_own_crop_at_img_size():
    pixels = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1, 3, 40, 60), dtype=np.uint8))
    out = Augment((28, 36), crop="rrc", crop_scale=(0.2, 0.5)).pixels(pixels.expand(8, -1, -1, -1),
                                                                      torch.Generator().manual_seed(0))
    assert out.shape == (8, 3, 28, 36)
    assert len({o.numpy().tobytes() for o in out}) == 8


def test_decoded_images_and_in_memory_batches_get_the_same_augmentation():
    """One implementation: a decoded PIL image (a batch of one) and the same pixels held in memory."""
    array = np.random.default_rng(1).integers(0, 256, (30, 44, 3), dtype=np.uint8)
    for recipe in (dict(crop="rrc"), dict(crop="pad", crop_padding=3, hflip=0.5)):
        augment = Augment((28, 36), **recipe)
        decoded = augment.pixels(F.pil_to_tensor(Image.fromarray(array))[None], torch.Generator().manual_seed(5))
        in_memory = augment.pixels(torch.from_numpy(array).permute(2, 0, 1)[None], torch.Generator().manual_seed(5))
        assert torch.equal(decoded, in_memory)


def test_randaugment_and_erasing_keep_shapes():
    batch = torch.randint(0, 256, (4, 1, 28, 36), dtype=torch.uint8)
    augment = Augment((28, 36), randaug="rand-m9-mstd0.5-inc1", reprob=1.0)
    pixels = augment.pixels(batch, torch.Generator().manual_seed(0))
    assert pixels.shape == batch.shape and pixels.dtype == torch.uint8 and not torch.equal(pixels, batch)
    erased = augment.erase(torch.zeros(4, 1, 28, 36))
    assert erased.shape == (4, 1, 28, 36) and (erased != 0).any()


def test_randaugment_posterizes_to_zero_bits_as_a_black_image():
    """m9 with mstd 0.5 sometimes reaches the top level: 0 bits kept, which Pillow 13 refuses."""
    augment = Augment((28, 36), randaug="rand-m9-mstd0.5-inc1", mean=(0.5, 0.5, 0.5))
    (posterize,) = [op for op in augment.randaug.ops if op.name == "PosterizeIncreasing"]
    posterize.prob, posterize.magnitude_std = 1.0, 0.0
    posterize.magnitude = 10  # the top level: 4 - 4 = 0 bits
    image = Image.fromarray(np.full((28, 36, 3), 200, np.uint8))
    assert np.asarray(posterize(image)).max() == 0


def test_eval_view_resizes_a_non_square_image_whole():
    view = eval_view((28, 36), None, "bicubic")
    image = torch.zeros(1, 3, 56, 72, dtype=torch.uint8)
    image[..., :, -2:] = 255  # a bright band at the right edge
    out = view(image)
    assert out.shape == (1, 3, 28, 36) and out[..., :, -1].float().mean() > 200
    assert torch.equal(view(out), out)  # already at img_size: untouched


def test_eval_view_with_crop_pct_is_the_official_imagenet_transform():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    out = np.asarray(eval_view((224, 224), 0.875, "bicubic")(image))
    resized = image.resize((341, 256), Image.BICUBIC)  # shorter side to 256, aspect kept
    left, top = (341 - 224) // 2, (256 - 224) // 2
    assert np.array_equal(out, np.asarray(resized.crop((left, top, left + 224, top + 224))))


@pytest.mark.parametrize("crop_pct, expected", [(None, (28, 36)), (0.875, (28, 36))])
def test_eval_view_shapes(crop_pct, expected):
    out = eval_view((28, 36), crop_pct, "bilinear")(torch.zeros(2, 1, 40, 40, dtype=torch.uint8))
    assert tuple(out.shape[-2:]) == expected
