"""An independent scalar reference of the iRPE spec (irpe.md sections 1-3), checked against the spec's
own numbers and hand-computed maps. Other test files import it: it never calls ablate code.

Everything is plain Python on ints and floats: math.log in float64, Python's round (half to even),
int() for truncation toward zero.
"""
import math

import pytest

SITE_METHODS = ("euc", "quant", "product", "cross_rows", "cross_cols")


def spec_g(x: float, ratio: float) -> int:
    """Piecewise index g(x), irpe.md section 1."""
    alpha, beta, gamma = float(ratio), 2.0 * ratio, 8.0 * ratio
    if abs(x) <= alpha:
        y = round(float(x))
    else:
        sign = 1 if x > 0 else -1
        y = sign * min(beta, round(alpha + math.log(abs(x) / alpha) / math.log(gamma / alpha) * (beta - alpha)))
    return int(y)


def spec_h(x: float, ratio: float) -> int:
    """Clip index h(x) = max(-b', min(b', round(x)))."""
    b = int(2.0 * ratio)
    return max(-b, min(b, round(float(x))))


def spec_allocated(method: str, ratio: float, skip: int) -> int:
    """Allocated buckets of one table (irpe.md section 2 table, plus one for prefix tokens)."""
    width = 2 * int(2.0 * ratio) + 1
    return (width * width if method == "product" else width) + (1 if skip > 0 else 0)


def spec_bucket(method: str, ratio: float, index: str, dr: int, dc: int) -> int:
    """Bucket id of a grid offset (dr, dc) = pos(query) - pos(key)."""
    f = spec_g if index == "piecewise" else spec_h
    b = int(2.0 * ratio)
    if method == "euc":
        return f(round(math.sqrt(dr * dr + dc * dc)), ratio) + b
    if method == "quant":
        return f(dr * dr + dc * dc, ratio) + b
    if method == "cross_rows":
        return f(dr, ratio) + b
    if method == "cross_cols":
        return f(dc, ratio) + b
    assert method == "product"
    return (f(dr, ratio) + b) * (2 * b + 1) + f(dc, ratio) + b


def spec_bucket_map(method: str, ratio: float, height: int, width: int, skip: int = 0,
                    index: str = "piecewise") -> list[list[int]]:
    """(skip + H*W) x (skip + H*W) nested list of bucket ids; prefix pairs read the last bucket."""
    length = skip + height * width
    last = spec_allocated(method, ratio, skip) - 1
    out = [[last] * length for _ in range(length)]
    for i in range(height * width):
        for j in range(height * width):
            dr, dc = i // width - j // width, i % width - j % width
            out[skip + i][skip + j] = spec_bucket(method, ratio, index, dr, dc)
    return out


def spec_used(method: str, ratio: float, height: int, width: int, skip: int, index: str = "piecewise") -> int:
    """Distinct buckets a grid reads; cross counts both axes."""
    sites = ("cross_rows", "cross_cols") if method == "cross" else (method,)
    return sum(len({v for row in spec_bucket_map(s, ratio, height, width, skip, index) for v in row})
               for s in sites)


# The reference itself is checked against the numbers printed in the spec and against maps worked out
# by hand below, so the other files can trust it.

def test_reference_g_matches_spec_values():
    assert [spec_g(x, 1.9) for x in range(12)] == [0, 1, 2, 2] + [3] * 8
    assert [spec_g(x, 2.0) for x in range(14)] == [0, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4]
    assert [spec_g(-x, 2.0) for x in range(14)] == [-v for v in [0, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4]]
    assert spec_g(10**6, 1.9) == 3 and spec_g(10**6, 2.0) == 4


def test_reference_counts_match_spec():
    assert spec_used("product", 1.9, 14, 14, 1) == 50
    assert spec_used("euc", 20, 14, 14, 1) == 20
    assert spec_used("quant", 33, 14, 14, 1) == 51
    assert spec_used("cross", 20, 14, 14, 1) == 56
    assert [spec_allocated(m, r, 1) for m, r in [("product", 1.9), ("euc", 20), ("quant", 33), ("cross_rows", 20)]] \
        == [50, 82, 134, 82]


# Hand-worked ratio 1.0 (alpha 1, beta 2, gamma 8, b' 2): g(1) = 1, g(2) = round(1 + ln2/ln8) = round(1.33) = 1,
# g(3) = round(1 + ln3/ln8) = round(1.53) = 2, g(4) = round(1.67) = 2, g(5) = round(1.77) = 2, g(8) = 2.
# Product on 3x3, query 0 at (0, 0): keys have dr, dc in {0, -1, -2} -> g in {0, -1, -1}; id = (g(dr)+2)*5 + g(dc)+2.
PRODUCT_3x3_R1_QUERY0 = [12, 11, 11, 7, 6, 6, 7, 6, 6]
PRODUCT_3x3_R1_QUERY4 = [18, 17, 16, 13, 12, 11, 8, 7, 6]   # centre query (1, 1): offsets in {-1, 0, 1}
PRODUCT_3x3_CLIP_R1_QUERY0 = [12, 11, 10, 7, 6, 5, 2, 1, 0]  # clip keeps 2 exact
# Euclidean on 3x3 from the corner: rounded distances 0,1,2 / 1,1,2 / 2,2,3 -> g = 0,1,1 / 1,1,1 / 1,1,2, +b' 2.
EUC_3x3_R1_QUERY0 = [2, 3, 3, 3, 3, 3, 3, 3, 4]
# Quant on 3x3 from the corner: squared distances 0,1,4 / 1,2,5 / 4,5,8 -> g = 0,1,2 / 1,1,2 / 2,2,2, +2.
QUANT_3x3_R1_QUERY0 = [2, 3, 4, 3, 3, 4, 4, 4, 4]
# Cross columns on 2x5 from query (0, 4): dc = 4,3,2,1,0 -> g = 2,2,1,1,0, +2, twice (both rows).
CROSS_COLS_2x5_R1_QUERY4 = [4, 4, 3, 3, 2] * 2


# (method, index, query, height, width, expected row) at ratio 1.0: checked against the reference here and
# against the code in test_rpe_buckets.py.
HAND_WORKED_ROWS = [
    ("product", "piecewise", 0, 3, 3, PRODUCT_3x3_R1_QUERY0),
    ("product", "piecewise", 4, 3, 3, PRODUCT_3x3_R1_QUERY4),
    ("product", "clip", 0, 3, 3, PRODUCT_3x3_CLIP_R1_QUERY0),
    ("euc", "piecewise", 0, 3, 3, EUC_3x3_R1_QUERY0),
    ("quant", "piecewise", 0, 3, 3, QUANT_3x3_R1_QUERY0),
    ("cross_cols", "piecewise", 4, 2, 5, CROSS_COLS_2x5_R1_QUERY4),
]


@pytest.mark.parametrize("method,index,query,height,width,expected", HAND_WORKED_ROWS)
def test_reference_matches_hand_worked_rows(method, index, query, height, width, expected):
    assert spec_bucket_map(method, 1.0, height, width, 0, index)[query] == expected
    with_cls = spec_bucket_map(method, 1.0, height, width, 1, index)
    last = spec_allocated(method, 1.0, 1) - 1
    assert with_cls[1 + query] == [last] + expected
    assert with_cls[0] == [last] * (1 + height * width)
