"""RPEConfig: one validated description of an iRPE variant, and the two string forms users know.

Model-name suffix (DeiT):  ctx_product_50_shared_k   -> mode, method, buckets used on 14x14 + class
                                                        token, head sharing, sites
DETR flag:                 rpe-2.0-product-ctx-1-k   -> ratio, method, mode, shared, sites (prefix 0)
"""
import dataclasses
import math
import re
from dataclasses import dataclass

METHODS = ("euc", "quant", "cross", "product")
MODES = ("bias", "contextual")
INDEXES = ("piecewise", "clip")
_MODE_ALIASES = {"ctx": "contextual", "contextual": "contextual", "bias": "bias"}

# The ratios behind the official model names (irpe.md section 5); other counts are searched.
_OFFICIAL_RATIOS = {("product", 50): 1.9, ("euc", 20): 20.0, ("quant", 51): 33.0, ("cross", 56): 20.0}
_SUFFIX = re.compile(r"^(ctx|contextual|bias)_([a-z]+)_(r?)([0-9.]+)_(shared|unshared)_([qkv]+)(_clip)?$")


def _invalid(field: str, value: object, allowed: str) -> ValueError:
    return ValueError(f"invalid RPE {field}={value!r}: expected {allowed}")


@dataclass(frozen=True)
class RPEConfig:
    """An iRPE variant: where it applies (rpe_on), how (mode, method, index, ratio, shared_head)."""

    method: str = "product"
    mode: str = "contextual"
    ratio: float = 1.9
    shared_head: bool = True
    rpe_on: str = "k"
    index: str = "piecewise"
    prefix: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise _invalid("method", self.method, f"one of {', '.join(METHODS)}")
        mode = _MODE_ALIASES.get(str(self.mode).lower())
        if mode is None:
            raise _invalid("mode", self.mode, "one of bias, contextual (or ctx)")
        if self.index not in INDEXES:
            raise _invalid("index", self.index, f"one of {', '.join(INDEXES)}")
        if isinstance(self.ratio, bool) or not isinstance(self.ratio, (int, float)) or not 0 < self.ratio < math.inf:
            raise _invalid("ratio", self.ratio, "a finite number > 0")
        sites = str(self.rpe_on).lower()
        if not sites or set(sites) - set("qkv"):
            raise _invalid("rpe_on", self.rpe_on, "a non-empty combination of the letters q, k, v")
        if mode == "bias" and "v" in sites:
            raise _invalid("rpe_on", self.rpe_on, "q and/or k in bias mode (bias mode on V does not exist)")
        if isinstance(self.prefix, bool) or not isinstance(self.prefix, int) or self.prefix < 0:
            raise _invalid("prefix", self.prefix, "an integer >= 0")
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "ratio", float(self.ratio))
        object.__setattr__(self, "shared_head", bool(self.shared_head))
        object.__setattr__(self, "rpe_on", "".join(s for s in "qkv" if s in sites))

    def replace(self, **changes: object) -> "RPEConfig":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    @property
    def suffix(self) -> str:
        """DeiT model-name suffix, e.g. ctx_product_50_shared_k (r<ratio> when the count is ambiguous)."""
        from ablate.rpe.buckets import used_buckets  # counting buckets needs torch; validating does not

        mode = "ctx" if self.mode == "contextual" else "bias"
        count = used_buckets(self.method, self.ratio, 14, 14, prefix=1, index=self.index)
        size = str(count) if _ratio_for_count(self.method, count, self.index) == self.ratio else f"r{self.ratio:.12g}"
        shared = "shared" if self.shared_head else "unshared"
        clip = "_clip" if self.index == "clip" else ""
        return f"{mode}_{self.method}_{size}_{shared}_{self.rpe_on}{clip}"

    @classmethod
    def from_suffix(cls, suffix: str, prefix: int = 0) -> "RPEConfig":
        """Parse a model-name suffix such as ctx_product_50_shared_k or bias_euc_r2.5_unshared_qk_clip."""
        match = _SUFFIX.match(suffix)
        if match is None:
            raise ValueError(f"invalid RPE suffix {suffix!r}: expected e.g. ctx_product_50_shared_k "
                             "(mode_method_buckets_shared|unshared_sites[_clip])")
        mode, method, is_ratio, number, shared, sites, clip = match.groups()
        if method not in METHODS:
            raise _invalid("method", method, f"one of {', '.join(METHODS)}")
        index = "clip" if clip else "piecewise"
        ratio = float(number) if is_ratio else _ratio_for_count(method, int(float(number)), index)
        if ratio is None:
            raise ValueError(f"invalid RPE suffix {suffix!r}: no ratio gives {number} {method} buckets "
                             "on a 14x14 grid with a class token")
        return cls(method=method, mode=mode, ratio=ratio, shared_head=shared == "shared",
                   rpe_on=sites, index=index, prefix=prefix)

    @property
    def flag(self) -> str:
        """DETR flag, e.g. rpe-2.0-product-ctx-1-k (a trailing -clip for the clip index)."""
        mode = "ctx" if self.mode == "contextual" else "bias"
        clip = "-clip" if self.index == "clip" else ""
        return f"rpe-{self.ratio!r}-{self.method}-{mode}-{int(self.shared_head)}-{self.rpe_on}{clip}"

    @classmethod
    def from_flag(cls, flag: str, prefix: int = 0) -> "RPEConfig":
        """Parse a DETR flag rpe-{ratio}-{method}-{mode}-{shared 0|1}-{sites}[-clip|-piecewise]."""
        parts = flag.split("-")
        if len(parts) not in (6, 7) or parts[0] != "rpe" or parts[4] not in ("0", "1"):
            raise ValueError(f"invalid RPE flag {flag!r}: expected rpe-{{ratio}}-{{method}}-{{mode}}-"
                             "{shared 0|1}-{sites}, e.g. rpe-2.0-product-ctx-1-k")
        try:
            ratio = float(parts[1])
        except ValueError:
            raise _invalid("ratio", parts[1], "a number > 0") from None
        index = parts[6] if len(parts) == 7 else "piecewise"
        return cls(method=parts[2], mode=parts[3], ratio=ratio, shared_head=parts[4] == "1",
                   rpe_on=parts[5], index=index, prefix=prefix)


def _ratio_for_count(method: str, count: int, index: str = "piecewise") -> float | None:
    """The official ratio for a bucket count (if it gives that count with this index), else the smallest
    ratio (step 0.1) that uses it."""
    from ablate.rpe.buckets import used_buckets  # counting buckets needs torch; validating does not

    official = _OFFICIAL_RATIOS.get((method, count))
    if official is not None and used_buckets(method, official, 14, 14, prefix=1, index=index) == count:
        return official
    for tenth in range(5, 1001):
        if used_buckets(method, tenth / 10, 14, 14, prefix=1, index=index) == count:
            return tenth / 10
    return None


def flag_config(flag: "str | RPEConfig | None") -> RPEConfig | None:
    """The RPE of a DETR flag; the authors' default flag '' (and None) means none; an RPEConfig passes through."""
    if isinstance(flag, RPEConfig) or flag is None:
        return flag
    if not isinstance(flag, str):
        raise TypeError(f"an RPE flag must be a string, an RPEConfig or None, got {type(flag).__name__}")
    return RPEConfig.from_flag(flag) if flag else None


def get_rpe_config(ratio: float = 1.9, method: str = "product", mode: str = "contextual",
                   shared_head: bool = True, skip: int = 0, rpe_on: str = "k") -> RPEConfig:
    """The authors' entry point: same arguments (their `skip` is our `prefix`: class and distillation tokens),
    returns a validated RPEConfig."""
    return RPEConfig(method=method, mode=mode, ratio=ratio, shared_head=shared_head,
                     rpe_on=rpe_on, prefix=skip)
