"""Compositions kept between commands (ablate.config.cache): a second plan composes nothing and gets the same
configs; any change to what a composition reads is a new key; a bad or unwritable cache only costs time."""
import shutil

import pytest

import ablate.config.cache as cache
import ablate.config.compose as compose
from ablate.config.compose import CONF_DIR, Composer

GRID = ["experiment=pe_zoo", "seed=0"]


def plan(overrides: list[str]) -> list[dict]:
    with Composer() as composer:
        return composer.configs(composer.jobs(overrides))


def entries(root) -> list:
    return sorted((root / "ablate" / "compose").glob("*.pkl"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def refuse_to_compose(monkeypatch):
    def composed(*args, **kwargs):
        raise AssertionError("Hydra composed although the cache holds this selection")
    monkeypatch.setattr(compose, "compose", composed)


def test_a_second_plan_composes_nothing_and_gets_the_same_configs(home, monkeypatch):
    first = plan(GRID)
    assert len(first) == 16 and len(entries(home)) == 9  # 8 encodings' selections and the grid
    refuse_to_compose(monkeypatch)
    assert plan(GRID) == first
    with Composer() as composer:  # and what Hydra composes job by job, the slow way, agrees
        monkeypatch.undo()
        assert [composer.config(job) for job in composer.jobs(GRID)] == first


def test_value_overrides_reuse_cached_selections_and_errors_go_through_hydra(home, monkeypatch):
    plan(GRID)
    calls, real = [], compose.compose

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(compose, "compose", counted)
    assert {c["train"]["epochs"] for c in plan([*GRID, "train.epochs=1"])} == {1}  # applied to cached selections
    assert [c["return_hydra_config"] for c in calls] == [True]  # only the grid, whose key holds every fixed override
    with pytest.raises(compose.ConfigError, match="unknown option rpe=nonexist"):
        plan([*GRID, "rpe=nonexist"])
    assert len(entries(home)) == 10  # the second grid; a failed composition is not stored


def test_any_change_to_conf_or_code_is_a_new_fingerprint(tmp_path):
    conf, code = tmp_path / "conf", tmp_path / "code"
    shutil.copytree(CONF_DIR, conf)
    code.mkdir()
    (code / "schema.py").write_text("x = 1\n")
    before = cache.fingerprint(conf, code)
    assert cache.fingerprint(conf, code) == before
    (conf / "train" / "cpu.yaml").write_text((conf / "train" / "cpu.yaml").read_text() + "\n# a comment\n")
    edited = cache.fingerprint(conf, code)
    (code / "schema.py").write_text("x = 2\n")
    assert len({before, edited, cache.fingerprint(conf, code)}) == 3


def test_unreadable_entries_are_composed_again(home):
    first = plan(GRID)
    for entry in entries(home):
        entry.write_bytes(b"not a pickle")
    assert plan(GRID) == first
    assert all(entry.read_bytes() != b"not a pickle" for entry in entries(home))


def test_a_cache_that_cannot_be_written_only_costs_time(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert len(plan(GRID)) == 16
    assert blocker.read_text().startswith("a file")


def test_the_cache_keeps_at_most_keep_entries(home, monkeypatch):
    monkeypatch.setattr(cache, "KEEP", 4)
    plan(GRID)  # nine entries written one by one: pruned to half of KEEP when a write passes KEEP
    assert 2 <= len(entries(home)) <= 4
