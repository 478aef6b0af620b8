"""In-memory data on a GPU run: the set lives on the GPU, is augmented there, and yields the batches the CPU
would (the random draws come from the same CPU generator). Skipped without a GPU; results/bench/gpu_check.sh
runs it."""
import pytest
import torch

from ablate.data.augment import Augment
from ablate.data.tensor_batches import TensorBatches

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _batches(device: str, crop: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    images = torch.randint(0, 256, (96, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(96) % 10
    augment = Augment((28, 28), crop=crop, crop_scale=(0.5, 1.0), crop_padding=2, hflip=0.5, device=device)
    torch.manual_seed(3)
    return list(TensorBatches(images, labels, 32, [0.5], [0.25], shuffle=True, drop_last=True, augment=augment,
                              device=device))


@pytest.mark.parametrize("crop", ["pad", "rrc", "none"])
def test_a_gpu_run_gets_the_cpu_batches_from_gpu_memory(crop):
    cpu, gpu = _batches("cpu", crop), _batches("cuda", crop)
    assert len(cpu) == len(gpu) == 3
    for (x, y), (gx, gy) in zip(cpu, gpu):
        assert gx.is_cuda and gy.is_cuda
        assert torch.equal(y, gy.cpu())
        # pad and flip move pixels exactly; rrc's bicubic resampling may round differently on the GPU.
        tolerance = 0 if crop != "rrc" else 2 / 0.25 / 255
        assert (x - gx.cpu()).abs().max().item() <= tolerance + 1e-6
