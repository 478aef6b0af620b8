"""data.subset: a limit keeps a sample drawn from the run's seed (the default), so the spread over seeds includes
the data split's, or the same images for every run (fixed: the paper proxy's shipped runs)."""
import torch
from omegaconf import OmegaConf

from ablate.config.compose import Composer
from ablate.data.sets import Tensors, sample


def _tensors(n: int) -> Tensors:
    return Tensors(torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1), torch.arange(n), 10)


def test_seeded_subsets_differ_by_seed_and_repeat_for_one():
    part = _tensors(200)
    a, b, again = part.subset(50, 0), part.subset(50, 1), part.subset(50, 0)
    assert torch.equal(a.labels, again.labels) and not torch.equal(a.labels, b.labels)
    assert len(set(a.labels.tolist())) == 50 and a.labels.tolist() == sorted(a.labels.tolist())
    assert part.subset(50, None).labels.tolist() == list(range(50))  # fixed: the first ones, as before
    assert part.subset(500, 3) is part


def test_a_seeded_sample_of_files_has_its_own_decode_cache_entry(tmp_path):
    from ablate.data.cache import cache_key
    from ablate.data.sets import Encoded

    files = []
    for i in range(30):
        (tmp_path / f"{i}.png").write_bytes(b"x")
        files.append(str(tmp_path / f"{i}.png"))
    part = Encoded(list(range(30)), files, 2)
    fixed, seeded = part.subset(10, None), part.subset(10, 4)
    assert list(fixed.samples) == sample(30, 10, None).tolist() and list(seeded.samples) == sample(30, 10, 4).tolist()
    keys = {cache_key(p.files, 10, 1, (8, 8), p.picked) for p in (fixed, seeded, part.subset(10, 5))}
    assert len(keys) == 3


def test_limits_sample_by_seed_by_default_and_the_proxy_keeps_its_fixed_split():
    with Composer() as composer:
        default = composer.config([])
        proxy = composer.config(["experiment=paper/table4", "+experiment/paper/row=none"])
    assert default.data.train_limit and default.data.subset == "seed"
    assert OmegaConf.select(proxy, "data.subset") == "fixed"
