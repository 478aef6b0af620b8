"""Compose configs and expand sweeps with Hydra's public Compose API and override parser (no @hydra.main).

A sweep is the experiment's `hydra.sweeper.params` plus the command line (which wins per key), expanded into one
override list per job: the product of each override's values, as Hydra's basic sweeper forms it, done here with
the parser's public `sweep_string_iterator` rather than the sweeper's internal module. Each distinct group
selection is composed once (ablate.config.selection), and kept for later commands (ablate.config.cache); a job's
value overrides are applied to it.
"""
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ablate.config.cache import CompositionCache, fingerprint
from ablate.config.checks import unknown_key
from ablate.config.errors import ConfigError
from ablate.config.schema import register
from ablate.config.selection import Selection
from ablate.suggest import did_you_mean

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
T = TypeVar("T")


_NOT_FOUND = re.compile(r"Could not find '(?P<group>[^']+)/(?P<option>[^']*)'")
# Hydra's advice for a key the config lacks is to append it (+key=value), which is never what a typo needs.
_NO_KEY = re.compile(r"Could not override '(?P<key>[^']+)'")
_NO_EQUAL = re.compile(r"Error parsing override '(?P<line>[^']*)'\s+missing EQUAL")  # `train.epochs 5`
# An experiment (the default one included) setting a key the chosen model's schema lacks, e.g. the DeiT
# detr_composite's data.num_train with a classification dataset.
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
        hint = did_you_mean(found["option"], options, found["group"] + "={}")
        return f"unknown option {found['group']}={found['option']}{hint}; available: {', '.join(options)}"
    missing = _NO_KEY.search(text)
    if missing:
        return unknown_key(missing["key"])
    no_equal = _NO_EQUAL.search(text)
    if no_equal:
        return f"override {no_equal['line']!r} has no =: write KEY=VALUE, e.g. train.epochs=5"
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


def _missing(key: str) -> str:
    return f"missing value for {key} (set it with {key}=...)"


class Composer:
    """Composes configs from conf/ inside one Hydra context; use as a context manager."""

    def __enter__(self) -> "Composer":
        register()
        GlobalHydra.instance().clear()
        self._context = initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3")
        self._context.__enter__()
        loader = GlobalHydra.instance().config_loader()
        self._parser = OverridesParser.create(config_loader=loader)
        self._repository = loader.repository
        self._parse_cache: dict[str, object] = {}
        self._group_cache: dict[str, bool] = {}
        self._grids: dict[tuple[str, ...], dict] = {}
        self._cache: CompositionCache | None = None
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    @property
    def parser(self) -> OverridesParser:
        """Hydra's override parser, bound to this context's config loader."""
        return self._parser

    def compose(self, overrides: list[str], hydra: bool = False, resolve: bool = True) -> DictConfig:
        """Hydra's composition of conf/config.yaml with these overrides (ConfigError, one line, if it fails);
        hydra=True keeps Hydra's own node (sweeper params, launcher settings)."""
        try:
            cfg = compose("config", overrides=list(overrides), return_hydra_config=hydra)
            if resolve and not hydra:
                OmegaConf.resolve(cfg)
                missing = sorted(OmegaConf.missing_keys(cfg))
                if missing:
                    raise ConfigError(_missing(missing[0]))
            return cfg
        except (HydraException, OmegaConfBaseException) as e:
            raise ConfigError(_one_line(e)) from None

    def config(self, overrides: list[str]) -> DictConfig:
        """The composed, resolved config of one run (sweep syntax is refused)."""
        sweeps = [o.input_line for o in self.parse(overrides) if o.is_sweep_override()]
        if sweeps:
            raise ConfigError(f"{sweeps[0]} is a sweep: use `ablate sweep` for more than one run")
        return self.compose(overrides)

    def _cached(self, kind: str, overrides: list[str], make: Callable[[], T]) -> T:
        """make(), or what it returned for these overrides before (ablate.config.cache)."""
        if self._cache is None:
            self._cache = CompositionCache(fingerprint(CONF_DIR))
        return self._cache.get(kind, overrides, make)

    def parse(self, overrides: list[str]) -> list[Override]:
        """The overrides as Hydra's parser reads them (ConfigError, one line, for bad syntax)."""
        try:
            parsed = self._parser.parse_overrides(list(overrides))
        except HydraException as e:
            raise ConfigError(_one_line(e)) from None
        keyless = [o.input_line for o in parsed if not o.key_or_group]
        if keyless:
            raise ConfigError(f"{keyless[0]}: an override needs a key before the = (KEY=VALUE)")
        return parsed

    def _parsed(self, override: str) -> Override:
        """One override, parsed once per distinct string (a grid repeats each many times)."""
        if override not in self._parse_cache:
            self._parse_cache[override] = self.parse([override])[0]
        return self._parse_cache[override]

    def is_group(self, override: Override) -> bool:
        """Hydra's own rule: a group override names a config group and does not carry a dict (cached per
        string: asking Hydra searches the config path on disk)."""
        line = override.input_line
        if line not in self._group_cache:
            self._group_cache[line] = (self._repository.group_exists(override.key_or_group)
                                       and not isinstance(override.value(), dict))
        return self._group_cache[line]

    def configs(self, job_overrides: list[list[str]]) -> list[dict]:
        """The resolved plain config of each job, as `config` would compose it (ConfigError on the first bad one).

        Jobs that share their group overrides share one composition; their value overrides are applied to
        plain copies of it (see ablate.config.selection), falling back to a full composition per job.
        """
        selections: dict[tuple[str, ...], Selection] = {}
        out = []
        for overrides in job_overrides:
            parsed = [self._parsed(o) for o in overrides]
            groups = tuple(o.input_line for o in parsed if self.is_group(o))
            if groups not in selections:
                composed = self._cached("selection", list(groups), lambda: self.compose(list(groups), resolve=False))
                selections[groups] = Selection(composed)
            config = selections[groups].apply([o for o in parsed if not self.is_group(o)])
            if config is None:
                config = OmegaConf.to_container(self.config(overrides), resolve=True)
            out.append(config)
        return out

    def grid(self, parsed: list[Override]) -> dict:
        """The keys the experiment sweeps and their values (hydra.sweeper.params), composed from the single-valued
        overrides."""
        for o in parsed:
            if o.is_sweep_override() and o.key_or_group == "experiment":
                raise ConfigError(f"{o.input_line}: sweep one experiment at a time")
        fixed = tuple(o.input_line for o in parsed if not o.is_sweep_override())
        if fixed not in self._grids:
            self._grids[fixed] = self._cached(
                "grid", list(fixed), lambda: dict(self.compose(list(fixed), hydra=True).hydra.sweeper.params or {}))
        return self._grids[fixed]

    def jobs(self, overrides: list[str]) -> list[list[str]]:
        """One override list per job: the experiment's sweeper params, then the command line (wins per key, in the
        place the key first had), every combination of their values."""
        params = self.grid(self.parse(overrides))
        choices: dict[str, list[str]] = {}
        for o in self.parse([f"{k}={v}" for k, v in params.items()] + list(overrides)):
            key = o.get_key_element()
            if not o.is_sweep_override():
                choices[key] = [f"{key}={o.get_value_element_as_str()}"]
            elif o.is_discrete_sweep():
                choices[key] = [f"{key}={value}" for value in o.sweep_string_iterator()]
            else:
                raise ConfigError(f"{o.input_line}: a sweep must list its values (a,b,c or range(a,b)), "
                                  "not an interval")
        return [list(job) for job in itertools.product(*choices.values())]
