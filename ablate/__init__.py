"""ablate: ablation studies of relative position encoding in vision transformers.

`import ablate` makes timm.create_model know our DeiT-with-iRPE names (ablate.models.deit registers them).
Registering needs timm, and importing timm (with torch and torchvision) takes seconds, which commands
such as `ablate --help`, `ablate ls` and `ablate report` should not pay. So registration happens when
timm is imported: now if it already is, else right after its first import.
"""
import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from importlib.util import find_spec

__version__ = "0.1.0"


def _register_models() -> None:
    import ablate.models.deit  # noqa: F401


class _RegisterAfterTimm(MetaPathFinder):
    """Finds timm like the default finders, then runs _register_models once timm's module has executed."""

    def find_spec(self, name: str, path: object, target: object = None) -> ModuleSpec | None:
        """The real spec of timm with a loader that registers our models after loading; None otherwise."""
        if name != "timm":
            return None
        sys.meta_path.remove(self)
        spec = find_spec("timm")
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module: object) -> None:
            exec_module(module)
            _register_models()

        spec.loader.exec_module = exec_then_register
        return spec


if "timm" in sys.modules:
    _register_models()
elif not any(isinstance(f, _RegisterAfterTimm) for f in sys.meta_path):
    sys.meta_path.insert(0, _RegisterAfterTimm())
