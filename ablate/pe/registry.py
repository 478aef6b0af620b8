"""Every position encoding besides iRPE, by name: what it is, where it applies, what it takes. Torch-free.

An encoding is a module (ablate.pe.<name>, or ablate.rpe.baselines for the paper's Table 5 rows) with

    build(name, dim, num_heads, depth, prefix, grid, **options) -> ModelEncoding

(ablate.pe.interface): per-layer attention parts (rotations, logit terms), model-level modules, token
mixers; its options are keyword arguments of build() with their defaults. A config chooses it with
`pe.name`, and sets an option with `pe.<option>` (a field of ablate.config.schema.PESchema that names the
encodings taking it); the absolute encoding is `pe.absolute` (learned, sincos, none) and iRPE is the `rpe`
group. A new encoding is its module, conf/pe/<name>.yaml, and one `ENCODINGS.register` line here; a new
option of one is its build() argument and its schema field.
"""
import inspect
from dataclasses import dataclass
from importlib import import_module

from ablate.registry import Registry

ABSOLUTE = ("learned", "sincos", "none")


@dataclass(frozen=True)
class EncodingSpec:
    """One encoding: its module, description, the models it fits, and how it combines with the rest."""

    module: str
    description: str
    models: tuple[str, ...] = ("deit", "detr")  # model families it is defined for
    with_irpe: bool = True  # whether it combines with iRPE (the rpe group)
    head_dim_multiple: int = 1  # head_dim must be a multiple of this (rotations pair channels per axis)
    pair_terms: bool = True  # adds a term per (query, key) pair, so SDPA keeps an N x N mask (GPU memory plan)


ENCODINGS: Registry[EncodingSpec] = Registry("position encoding")
ENCODINGS.register("none", EncodingSpec("ablate.pe.none", "no encoding besides the absolute one and iRPE",
                                        pair_terms=False))
ENCODINGS.register("rope_axial", EncodingSpec(
    "ablate.pe.rope", "2D RoPE, axial: half the channel pairs rotate by x, half by y, fixed frequencies "
    "(Heo et al. 2024); prefix tokens are not rotated", head_dim_multiple=4,
    pair_terms=False))
ENCODINGS.register("rope_mixed", EncodingSpec(
    "ablate.pe.rope", "2D RoPE-Mixed: every pair rotates by a learned mix of x and y, per head and layer "
    "(Heo et al. 2024); prefix tokens are not rotated", head_dim_multiple=4,
    pair_terms=False))
ENCODINGS.register("bias_table", EncodingSpec(
    "ablate.pe.bias_table", "a learned bias per head for each relative offset, (2H-1)(2W-1) entries plus "
    "three for prefix tokens (Swin, BEiT); one table per layer, or shared by all"))
ENCODINGS.register("alibi", EncodingSpec(
    "ablate.pe.alibi", "2D ALiBi: minus a fixed per-head slope times the Euclidean patch distance (CROMA)"))
ENCODINGS.register("peg", EncodingSpec(
    "ablate.pe.peg", "PEG (CPVT): a 3x3 depthwise convolution over the patch grid, added back, after the "
    "given blocks", models=("deit",), pair_terms=False))
ENCODINGS.register("shaw", EncodingSpec(
    "ablate.rpe.baselines", "Shaw et al.'s RPE as the paper adapted it: contextual product iRPE on K and V, clip "
    "index, shared (Table 5)", models=("deit",), with_irpe=False))
for _name, _text in (("txl", "Transformer-XL's RPE"), ("huang", "Huang et al.'s RPE"), ("sasa", "SASA's RPE")):
    ENCODINGS.register(_name, EncodingSpec("ablate.rpe.baselines", f"{_text} as the paper adapted it to 2D "
                                           "(Table 5)", models=("deit",), with_irpe=False))


def build_encoding(name: str, dim: int, num_heads: int, depth: int, prefix: int, grid: tuple[int, int],
                   options: dict | None = None):
    """The ModelEncoding of a named encoding for a model whose nominal patch grid is `grid`, with the options given
    (the rest take the encoding's defaults); ValueError for an option it does not take (loads torch)."""
    build = import_module(ENCODINGS[name].module).build
    takes = [p for p in inspect.signature(build).parameters][6:]
    given = {k: v for k, v in (options or {}).items() if v is not None}
    extra = sorted(set(given) - set(takes))
    if extra:
        raise ValueError(f"pe.name={name} takes no pe.{extra[0]} (it takes: "
                         f"{', '.join('pe.' + k for k in takes) or 'no options'})")
    return build(name, dim, num_heads, depth, prefix, grid, **given)
