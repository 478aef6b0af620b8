"""The one place that touches Hydra: compose configs, expand sweeps, configure launchers (Compose API, no
@hydra.main).

A sweep is the experiment's `hydra.sweeper.params` plus the command line (which wins per key),
expanded by Hydra's own override parser and BasicSweeper into one override list per job. Each distinct
group selection is composed once (ablate.config.selection); a job's value overrides are applied to it.

Where runs are filed follows from the command (`filed_name`): under the experiment's own `name` while the
command line only chooses the study and its points; any other override makes a different study, named
after the experiment and those overrides.
"""
import hashlib
import re
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.callbacks import Callbacks
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.errors import HydraException
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ablate.config.schema import is_identity, register
from ablate.config.selection import Selection

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
STUDY_GROUPS = ("experiment", "scale")  # choose the study itself (scale: a paper table's proxy or paper setting)
NAME_LIMIT = 80  # characters of a derived experiment name (a directory name, typed after --experiment)
_UNSAFE = re.compile(r"[^A-Za-z0-9._,=~-]")  # replaced by _ in a derived name: shell- and filesystem-safe
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._,=~+-]*")  # what name=... may be


class ConfigError(ValueError):
    """A config that cannot be composed; the message is one line."""


_NOT_FOUND = re.compile(r"Could not find '(?P<group>[^']+)/(?P<option>[^']*)'")
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


def _missing(key: str) -> str:
    return f"missing value for {key} (set it with {key}=...)"


def within_study(key: str, grid: list[str]) -> bool:
    """Whether overriding key keeps a run in its experiment: the seed, the choice of experiment (or scale),
    one of the keys it sweeps or a key below one, or a key that is no part of a run's identity (runtime.*,
    logging.*, paths such as data.root)."""
    if key in ("seed", *STUDY_GROUPS) or not is_identity(key):
        return True
    return any(key == g or key.startswith((f"{g}.", f"{g}/")) for g in grid)


def derived_name(base: str, pieces: list[str]) -> str:
    """base+piece+piece (unsafe characters as _); past NAME_LIMIT, the pieces that fit and +more-<hash of all>."""
    safe = [_UNSAFE.sub("_", piece) for piece in pieces]
    name = "+".join([base, *safe])
    if len(name) <= NAME_LIMIT:
        return name
    tag = "+more-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    short = base
    for piece in safe:
        if len(short) + 1 + len(piece) + len(tag) > NAME_LIMIT:
            break
        short += "+" + piece
    return short + tag


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
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    def _compose(self, overrides: list[str], hydra: bool = False, resolve: bool = True) -> DictConfig:
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
        sweeps = [o.input_line for o in self._parse(overrides) if o.is_sweep_override()]
        if sweeps:
            raise ConfigError(f"{sweeps[0]} is a sweep: use `ablate sweep` for more than one run")
        return self._compose(overrides)

    def _parse(self, overrides: list[str]) -> list:
        try:
            return self._parser.parse_overrides(list(overrides))
        except HydraException as e:
            raise ConfigError(_one_line(e)) from None

    def _parsed(self, override: str):
        """One override, parsed once per distinct string (a grid repeats each many times)."""
        if override not in self._parse_cache:
            self._parse_cache[override] = self._parse([override])[0]
        return self._parse_cache[override]

    def _is_group(self, override) -> bool:
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
            groups = tuple(o.input_line for o in parsed if self._is_group(o))
            if groups not in selections:
                selections[groups] = Selection(self._compose(list(groups), resolve=False))
            config = selections[groups].apply([o for o in parsed if not self._is_group(o)])
            if config is None:
                config = OmegaConf.to_container(self.config(overrides), resolve=True)
            out.append(config)
        return out

    def _grid(self, parsed: list) -> list[str]:
        """The keys the experiment sweeps (hydra.sweeper.params), composed from the single-valued overrides."""
        for o in parsed:
            if o.is_sweep_override() and o.key_or_group == "experiment":
                raise ConfigError(f"{o.input_line}: sweep one experiment at a time")
        fixed = tuple(o.input_line for o in parsed if not o.is_sweep_override())
        if fixed not in self._grids:
            self._grids[fixed] = dict(self._compose(list(fixed), hydra=True).hydra.sweeper.params or {})
        return self._grids[fixed]

    def filed_name(self, overrides: list[str], composed: str) -> str:
        """The experiment name a command's runs are filed under, for a run whose config names `composed`.

        name=NAME if given; else `composed` (the experiment's name) when every override stays within the
        experiment (within_study); else `composed`, then each other override (group choices first, each
        sorted), joined by +.
        """
        parsed = self._parse(overrides)
        for o in parsed:
            if o.key_or_group == "name" and not o.is_delete():
                value = o.input_line.split("=", 1)[1]
                if o.is_sweep_override() or not _NAME.fullmatch(value):
                    raise ConfigError(f"{o.input_line}: name takes one plain directory name "
                                      "(letters, digits and . _ - + = , ~)")
                return value
        keys = [str(k).lstrip("+~") for k in self._grid(parsed)]
        others = [o for o in parsed if not within_study(o.key_or_group, keys)]
        pieces = sorted(o.input_line.lstrip("+") for o in others if self._is_group(o))
        pieces += sorted(o.input_line.lstrip("+") for o in others if not self._is_group(o))
        return derived_name(composed, pieces)

    def jobs(self, overrides: list[str]) -> list[list[str]]:
        """One override list per job: the experiment's sweeper params, then the command line (wins per key)."""
        params = self._grid(self._parse(overrides))
        everything = [f"{k}={v}" for k, v in params.items()] + list(overrides)
        try:
            return [list(job) for job in BasicSweeper.split_arguments(self._parse(everything), None)[0]]
        except HydraException as e:
            raise ConfigError(_one_line(e)) from None

    def launcher_config(self, name: str, settings: list[str], sweep_dir: Path, parallel: int) -> DictConfig:
        """The Hydra config of conf/launcher/<name>.yaml with hydra.launcher.* settings and -j N applied."""
        overrides = [f"+launcher={name}", f"hydra.sweep.dir='{sweep_dir}'", "hydra.output_subdir=null",
                     "hydra/job_logging=none", "hydra/hydra_logging=none"]
        try:
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
            # Settings go into the composed config, not into Hydra's overrides: each job's worker composes
            # its config again from those, without the launcher option, where these keys do not exist.
            for setting in self._parser.parse_overrides(settings):
                if setting.is_sweep_override():
                    raise ConfigError(f"{setting.input_line}: a launcher setting takes one value")
                OmegaConf.update(cfg, setting.key_or_group, setting.value(), force_add=setting.is_add())
        except (HydraException, OmegaConfBaseException) as e:
            raise ConfigError(f"launcher {name}: {str(e).splitlines()[0]}") from None
        if parallel > 1:  # -j N: the launcher's own parallelism knob
            for key in ("n_jobs", "array_parallelism"):
                if key in cfg.hydra.launcher:
                    cfg.hydra.launcher[key] = parallel
        return cfg

    def launcher(self, cfg: DictConfig, task: TaskFunction) -> Launcher:
        """The Hydra launcher plugin a launcher config names, calling task for each job."""
        context = HydraContext(config_loader=GlobalHydra.instance().config_loader(), callbacks=Callbacks(cfg))
        return Plugins.instance().instantiate_launcher(hydra_context=context, task_function=task, config=cfg)
