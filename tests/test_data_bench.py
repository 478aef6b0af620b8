"""The data-path benchmark's measurements run on today's configs (its numbers are printed, not asserted)."""
import torch

from ablate.config.compose import Composer
from ablate.bench.data import images_per_second, training_images_per_second


def test_the_training_step_rate_runs_on_a_non_square_model():
    with Composer() as composer:
        cfg = composer.config(["~experiment", "model=deit_pico", "pe.absolute=none", "rpe=irpe_k", "data=digits",
                               "data.img_size=[28,36]", "train=cpu", "train.batch_size=4"])
    assert training_images_per_second(cfg, 10, seconds=0.01) > 0


def test_images_per_second_stops_an_endless_loader_after_its_time():
    def endless():
        while True:
            yield torch.zeros(8, 1, 8, 8), torch.zeros(8)

    assert images_per_second(endless(), seconds=0.05) > 0
