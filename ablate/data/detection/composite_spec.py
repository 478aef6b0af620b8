"""What determines the composite detection set: its parameters, their defaults and their checks, in one place.

The config schema's detection data takes these fields as they are (ablate.config.schema.DetectionDataSchema),
the dataset check builds a spec to validate a config, and ablate.data.detection.composite generates the set a
spec describes. Torch- and numpy-free: the check runs when a sweep is planned.
"""
import hashlib
import json
from dataclasses import asdict, dataclass, fields

from omegaconf import DictConfig


@dataclass
class CompositeSpec:
    """Everything that determines the generated set (a config's data.<field>)."""

    seed: int = 0
    num_train: int = 800
    num_val: int = 200
    image_size: int = 128
    max_objects: int = 4
    min_object: int = 20
    max_object: int = 56

    def __post_init__(self) -> None:
        for name in ("num_train", "num_val", "image_size", "max_objects", "min_object", "max_object"):
            if getattr(self, name) < 1:
                raise ValueError(f"data.{name}={getattr(self, name)} is out of range: expected >= 1")
        if not self.min_object <= self.max_object <= self.image_size:
            raise ValueError(f"composite object sizes must satisfy data.min_object <= data.max_object <= "
                             f"data.image_size, got {self.min_object}, {self.max_object}, {self.image_size}")

    @classmethod
    def of(cls, data: DictConfig) -> "CompositeSpec":
        """The spec a data config describes (ValueError, one line, for values it cannot take)."""
        return cls(**{f.name: data[f.name] for f in fields(CompositeSpec)})

    @property
    def key(self) -> str:
        """Short digest naming the cache folder of this spec."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:10]
