"""The benchmark runs (a smoke test at batch 1; speed itself is measured by `python -m ablate.rpe.bench`)."""
import pytest

from ablate.rpe.bench import median_times, time_attention


@pytest.mark.parametrize("backend,rpe_on,mode", [("eager", None, "-"), ("sdpa", "qk", "contextual"),
                                                 ("auto", "k", "bias")])
def test_time_attention_runs(backend, rpe_on, mode):
    assert time_attention(backend, rpe_on, mode, batch=1, steps=1, warmup=0) > 0


def test_median_times_takes_turns():
    calls = []
    fns = [lambda: calls.append("a"), lambda: calls.append("b")]
    assert len(median_times(fns, steps=2, warmup=1)) == 2
    assert calls == ["a", "b"] * 3

