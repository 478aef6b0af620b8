"""Record migrations: bring runs made under an older config schema to the current one.

A run's identity is the hash of its resolved config, so moving or adding a config key moves every run
to a new hash. Each migration below rewrites an old resolved config as the current schema would have
resolved the same run (keys moved, new keys at the values that reproduce what the run did); `ablate
migrate` applies them on disk (record, config.yaml, and the directory, renamed to the new hash, so that
sweeps skip and resume these runs), and reports read old records through them in memory.

- schema 1 -> 2: the position encoding moved into the `pe` group: model.abs_pos -> pe.absolute,
  model.baseline -> pe.name (null: none), DETR's model.position_embedding -> pe.absolute (sine: sincos);
  eval.resolutions added (none: the run was evaluated at its training resolution only).
- schema 2 -> 3: augmentation belongs to the recipe: train.crop added (what the run did: pad-and-crop on
  in-memory data, timm's random resized crop on image folders, none for detection) with train.crop_scale
  [0.08, 1.0]; eval.crop_pct null by default (it cropped only image folders, which keep their 0.875).
- schema 3 -> 4: the config is unchanged, the identity rule is not: train.drop_path counts (an earlier rule took
  every key ending in _path for a path and left it out). Runs at drop_path 0.0 keep their hash and need
  nothing; others move to their new one.

An option added since schema 4 needs no migration: its schema field names a neutral value at which it is left
out of the identity (ablate.config.schema.option), and records without it read as that value.
"""
import os
from pathlib import Path

from omegaconf import OmegaConf

from ablate.results.records import RECORD_SCHEMA, config_hashes
from ablate.results.rundir import RunBusy, RunDir, run_dirs


def _schema_2(config: dict) -> dict:
    config = {**config, "model": dict(config["model"]), "eval": {**config.get("eval", {}), "resolutions": []}}
    model = config["model"]
    if "position_embedding" in model:  # DETR
        absolute, name = {"sine": "sincos"}.get(model["position_embedding"], model["position_embedding"]), "none"
        del model["position_embedding"]
    else:
        absolute, name = model.pop("abs_pos", "learned"), model.pop("baseline", None) or "none"
    config["pe"] = {"absolute": absolute, "name": name, "base": None, "shared": None, "blocks": None}
    return config


FOLDERS = ("folder", "imagenet")  # the datasets schema 2 read from image files


def _schema_3(config: dict) -> dict:
    folder = config["data"].get("name") in FOLDERS
    crop = "none" if config.get("task") == "detection" else "rrc" if folder else "pad"
    train = {**config["train"], "crop": crop, "crop_scale": [0.08, 1.0]}
    evaluation = {**config["eval"], "crop_pct": config["eval"].get("crop_pct") if folder else None}
    return {**config, "train": train, "eval": evaluation}


def _schema_4(config: dict) -> dict:
    return config


MIGRATIONS = {1: _schema_2, 2: _schema_3, 3: _schema_4}  # schema n -> n + 1


def config_schema(config: dict) -> int:
    """The schema a resolved config was written under (for runs that have no record yet to say so)."""
    if "pe" not in config:
        return 1
    return 2 if "crop" not in config.get("train", {}) else RECORD_SCHEMA


def upgrade_config(config: dict, schema: int) -> dict:
    """A resolved config of an older schema as the current schema resolves the same run."""
    for version in range(schema, RECORD_SCHEMA):
        config = MIGRATIONS[version](config)
    return config


def upgrade(record: dict) -> dict:
    """The record as the current schema writes it (identity recomputed; run_id still names the directory it is
    in). Current records, records that name no schema, and old ones whose config and identity the upgrade leaves
    as they are come back unchanged (the same object): there is nothing to migrate."""
    schema = record.get("schema", RECORD_SCHEMA)
    if schema >= RECORD_SCHEMA:
        return record
    config = upgrade_config(record["config"], schema)
    config_hash, group_hash = config_hashes(config)
    old = record.get("identity", {})
    if config == record["config"] and (old.get("config_hash"), old.get("group_hash")) == (config_hash, group_hash):
        return record
    identity = {**old, "config_hash": config_hash, "group_hash": group_hash}
    return {**record, "schema": RECORD_SCHEMA, "identity": identity, "config": config}


def migrate(results: Path) -> dict[str, list[str]]:
    """Upgrade every run under results on disk; returns run ids by outcome (moved, current, busy, clash, skipped)."""
    outcome: dict[str, list[str]] = {"moved": [], "current": [], "busy": [], "clash": [], "skipped": []}
    for run in list(run_dirs(results)):
        try:
            record = run.record()
        except ValueError:
            outcome["skipped"].append(run.name)  # unreadable: leave it for a human
            continue
        if record is not None:
            new = upgrade(record)
            config = new["config"]
            if new is record:
                outcome["current"].append(run.name)
                continue
        else:  # unfinished: its config.yaml says what it is, and its checkpoint resumes it under the new hash
            try:
                config = OmegaConf.to_container(OmegaConf.load(run / RunDir.CONFIG), resolve=True)
                new, config = None, upgrade_config(config, config_schema(config))
            except Exception:  # absent, or not a config (YAML, OmegaConf and the upgrade raise many kinds): leave it
                outcome["skipped"].append(run.name)
                continue
        target = run.path.parent / config_hashes(config)[0][:12]
        if new is None and target == run.path:
            outcome["current"].append(run.name)
            continue
        if target.exists() and target != run.path:
            outcome["clash"].append(run.name)
            continue
        try:
            with run.lock():
                run.write_config(OmegaConf.to_yaml(OmegaConf.create(config)))
                if new is not None:
                    run.write_record({**new, "run_id": target.name})
                os.replace(run.path, target)  # a directory rename is atomic: the run is at one hash or the other
        except RunBusy:
            outcome["busy"].append(run.name)
            continue
        outcome["moved"].append(f"{run.name} -> {target.name}")
    return outcome


def stale(results: Path, experiment: str | None = None) -> int:
    """How many runs under results have records that migrating would change (only old schemas are upgraded)."""
    count = 0
    for run in run_dirs(results, experiment):
        try:
            record = run.record()
        except ValueError:
            continue
        if record is not None and upgrade(record) is not record:
            count += 1
    return count
