"""Data-path benchmark: images/s of each way images reach the model, beside the training step's images/s.

    python -m ablate.bench.data [--threads N] [--workers W] [--seconds S] [--keep DIR]

Writes two folders into a temporary directory (ablate.bench.samples) and times, on this machine:
- a small folder (4,000 + 1,000 PNGs, 28 x 36 RGB) with the CPU recipe (pad-and-crop by 2 px, flips): the
  first decode into the cache, then the in-memory path it trains through, and for comparison the same folder
  streamed through W DataLoader workers; beside deit_pico with contextual iRPE training at [28, 36];
- an ImageNet-style folder (2,000 + 400 JPEGs, 224-400 px a side) with the DeiT recipe (random resized crop,
  flips, RandAugment, random erasing) streamed through W workers and through none, beside deit_tiny
  training at 224.
The data path keeps up when its images/s exceed the training step's. Each timing runs for one epoch or
S seconds, whichever comes first; the decode cache lives in the temporary directory too.
"""
import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

FMNIST = "/usr/share/datasets/fashion-mnist"


def images_per_second(batches: Iterable, seconds: float) -> float:
    """Images/s of one pass over batches, stopped after `seconds`."""
    start, count = time.perf_counter(), 0
    for images, _ in batches:
        count += len(images)
        if time.perf_counter() - start > seconds:
            break
    return count / (time.perf_counter() - start)


def training_images_per_second(cfg, num_classes: int, seconds: float) -> float:
    """Images/s of forward, backward and AdamW step of cfg's model on random batches of cfg's shape."""
    import torch

    from ablate.data.options import image_size
    from ablate.engine.model import build_model

    size = image_size(cfg.data.img_size)
    model = build_model(cfg.model, cfg.pe, cfg.rpe, num_classes, cfg.data.in_chans, size, cfg.train.drop_path).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    images = torch.randn(cfg.train.batch_size, cfg.data.in_chans, *size)
    labels = torch.randint(num_classes, (cfg.train.batch_size,))

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()  # warm-up
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or count == 0:
        step()
        count += len(images)
    return count / (time.perf_counter() - start)


def main() -> None:
    """Write the two folders, time every path, print one line each."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for streamed folders")
    parser.add_argument("--seconds", type=float, default=20.0, help="longest time per measurement")
    parser.add_argument("--keep", type=Path, help="write the folders here and keep them (default: a temporary dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.keep or Path(scratch)
        shutil.rmtree(work / "cache", ignore_errors=True)
        os.environ["XDG_CACHE_HOME"] = str(work / "cache")  # a cold decode cache of its own
        run(work, args.threads, args.workers, args.seconds)


def run(work: Path, threads: int, workers: int, seconds: float) -> None:
    """The measurements, printed as they finish."""
    import torch

    import ablate.data.build as build
    from ablate.config.compose import Composer
    from ablate.data.cache import is_small
    from ablate.bench.samples import photo_crops, shifted_fashion
    from ablate.engine.resources import cpu_count

    torch.set_num_threads(threads or cpu_count())
    small, large = work / "small", work / "imagenet_style"
    if not small.exists():
        shifted_fashion(small, FMNIST)
    if not large.exists():
        photo_crops(large, n_train=2000, n_val=400)
    with Composer() as composer:
        small_cfg = composer.config(["~experiment", "model=deit_pico", "pe.absolute=none", "rpe=irpe_k",
                                     "data=folder", f"data.root={small}", "data.img_size=[28,36]", "train=cpu"])
        large_cfg = composer.config(["~experiment", "model=deit_tiny", "data=folder", f"data.root={large}",
                                     "train=deit", "train.batch_size=64"])
    print(f"data-path benchmark: {torch.get_num_threads()} torch threads, {workers} workers, {os.cpu_count()} cores, "
          f"up to {seconds:g} s a line")

    def show(what: str, rate: float) -> None:
        print(f"  {what:<62} {rate:8.0f} images/s", flush=True)

    part = build.open_split(small_cfg.data, "train", small_cfg.seed)
    start = time.perf_counter()
    build.in_memory(part, small_cfg.data, workers, crops=False)
    show(f"small folder: first decode into the cache ({len(part.samples)} PNGs)", len(part.samples) /
         (time.perf_counter() - start))
    torch.manual_seed(0)
    show("small folder: cached, in memory, CPU recipe (pad 2 px, flips)",
         images_per_second(build.build_train_loader(part, small_cfg.data, small_cfg.train, workers), seconds))
    show(f"small folder: streamed from the files, {workers} workers",
         images_per_second(build.streamed_train_loader(part, small_cfg.data, small_cfg.train, workers), seconds))
    part = build.open_split(large_cfg.data, "train", large_cfg.seed)
    assert not is_small(len(part.samples), 3, (224, 224)), "the ImageNet-style folder should be a large set"
    for count in (workers, 0):
        show(f"ImageNet-style JPEGs: streamed, DeiT recipe, {count} workers",
             images_per_second(build.streamed_train_loader(part, large_cfg.data, large_cfg.train, count), seconds))
    show("training step: deit_pico + contextual iRPE-K at [28, 36], batch 64",
         training_images_per_second(small_cfg, 10, seconds))
    show("training step: deit_tiny at 224, batch 64", training_images_per_second(large_cfg, 10, seconds))


if __name__ == "__main__":
    main()
