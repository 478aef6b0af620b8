"""The one place that touches Hydra: compose configs and expand sweep overrides (Compose API, no @hydra.main).

A sweep is the experiment's `hydra.sweeper.params` plus the command line (which wins per key),
expanded by Hydra's own override parser and BasicSweeper into one override list per job.
"""
import re
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ablate.sweep.schema import register

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


class ConfigError(ValueError):
    """A config that cannot be composed; the message is one line."""


_NOT_FOUND = re.compile(r"Could not find '(?P<group>[^']+)/(?P<option>[^']*)'")
# An experiment (the default one included) setting a key the chosen model's schema lacks, e.g. the DeiT
# default experiment's model.abs_pos with model=detr_small.
_FOREIGN_KEY = re.compile(r"In 'experiment/(?P<experiment>[^']+)'.*Key '(?P<key>[^']+)' not in "
                          r"'(?P<schema>[^']+)'", re.S)


def _one_line(e: BaseException) -> str:
    """Hydra's message (and its cause's, which holds the detail) squeezed into one line."""
    text = str(e)
    found = _NOT_FOUND.search(text)
    if found and "Available options" in text:
        listing = text.split("Available options")[1].split("Config search path")[0]
        options = [line.strip() for line in listing.splitlines()[1:]
                   if line.startswith("\t")]
        return (f"unknown option {found['group']}={found['option']} "
                f"(available: {', '.join(options)})")
    foreign = _FOREIGN_KEY.search(text)
    if foreign:
        example = " (e.g. experiment=detr_composite)" if foreign["schema"] == "DETRSchema" else ""
        return (f"experiment={foreign['experiment']} sets {foreign['key']}, which {foreign['schema']} does not have: "
                f"drop the experiment with ~experiment or choose one made for this model{example}")
    if e.__cause__ is not None and str(e.__cause__) not in text:
        text = f"{text}: {e.__cause__}"
    lines = [line.strip() for line in text.split("Config search path")[0].splitlines()]
    return " ".join(line for line in lines if line and not line.startswith(
        ("full_key", "object_type", "reference_type")))


class Composer:
    """Composes configs from conf/ inside one Hydra context; use as a context manager."""

    def __enter__(self) -> "Composer":
        register()
        GlobalHydra.instance().clear()
        self._context = initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3")
        self._context.__enter__()
        self._parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    def _compose(self, overrides: list[str], hydra: bool = False) -> DictConfig:
        try:
            cfg = compose("config", overrides=list(overrides), return_hydra_config=hydra)
            if not hydra:
                OmegaConf.resolve(cfg)
                missing = sorted(OmegaConf.missing_keys(cfg))
                if missing:
                    raise ConfigError(f"missing value for {missing[0]} (set it with {missing[0]}=...)")
            return cfg
        except (HydraException, OmegaConfBaseException) as e:
            raise ConfigError(_one_line(e)) from None

    def config(self, overrides: list[str]) -> DictConfig:
        """The composed, resolved config of one run (sweep syntax is refused)."""
        sweeps = [o.input_line for o in self._parse(overrides) if o.is_sweep_override()]
        if sweeps:
            raise ConfigError(f"{sweeps[0]} is a sweep: use `ablate sweep` for more than one run")
        return self._compose(overrides)

    def _parse(self, overrides: list[str]) -> list:
        try:
            return self._parser.parse_overrides(list(overrides))
        except HydraException as e:
            raise ConfigError(_one_line(e)) from None

    def jobs(self, overrides: list[str]) -> list[list[str]]:
        """One override list per job: the experiment's sweeper params, then the command line (wins per key)."""
        parsed = self._parse(overrides)
        for o in parsed:
            if o.is_sweep_override() and o.get_key_element() in ("experiment", "+experiment"):
                raise ConfigError(f"{o.input_line}: sweep one experiment at a time")
        fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
        params = self._compose(fixed, hydra=True).hydra.sweeper.params or {}
        everything = [f"{k}={v}" for k, v in params.items()] + list(overrides)
        try:
            return [list(job) for job in BasicSweeper.split_arguments(self._parse(everything), None)[0]]
        except HydraException as e:
            raise ConfigError(_one_line(e)) from None
