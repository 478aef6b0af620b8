"""Index functions and bucket maps of ablate.rpe against the scalar spec reference (test_rpe_spec)."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ablate.rpe import allocated_buckets, bucket_map, clip_index, piecewise_index, total_allocated_buckets, used_buckets
from test_rpe_spec import (HAND_WORKED_ROWS, SITE_METHODS, spec_allocated, spec_bucket_map, spec_g, spec_h,
                           spec_used)


def _index(fn, xs, ratio):
    return fn(torch.tensor(xs), float(ratio), 2.0 * ratio, 8.0 * ratio).tolist()


def test_piecewise_values_listed_in_spec():
    xs = list(range(-30, 31))
    assert _index(piecewise_index, list(range(12)), 1.9) == [0, 1, 2, 2] + [3] * 8
    assert _index(piecewise_index, list(range(14)), 2.0) == [0, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4]
    for ratio in (0.5, 1.0, 1.9, 2.0, 2.5, 3.0, 7.0, 20.0, 33.0):
        assert _index(piecewise_index, xs, ratio) == [spec_g(x, ratio) for x in xs], ratio


def test_piecewise_saturates_at_int_beta_and_is_odd():
    for ratio in (1.9, 2.0, 2.5, 3.0):
        b = int(2 * ratio)
        far = _index(piecewise_index, [10**4, -(10**4), 10**7], ratio)
        assert far == [b, -b, b]


def test_clip_index():
    xs = list(range(-9, 10))
    for ratio in (0.5, 1.0, 1.9, 3.0):
        assert _index(clip_index, xs, ratio) == [spec_h(x, ratio) for x in xs]
    assert _index(clip_index, [-9, -3, -2, 0, 2, 3, 9], 1.0) == [-2, -2, -2, 0, 2, 2, 2]


def _code_map(method, ratio, height, width, skip, index):
    return bucket_map(method, ratio, height, width, skip, index).tolist()


@pytest.mark.parametrize("method,index,query,height,width,expected", HAND_WORKED_ROWS)
def test_hand_worked_rows(method, index, query, height, width, expected):
    assert _code_map(method, 1.0, height, width, 0, index)[query] == expected
    last = allocated_buckets(method, 1.0, 1) - 1
    with_cls = _code_map(method, 1.0, height, width, 1, index)
    assert with_cls[1 + query] == [last] + expected
    assert with_cls[0] == [last] * (1 + height * width)


def test_cross_rows_3x3_literal():
    # Ratio 1.0, piecewise: dr in {-2..2} -> g = -1,-1,0,1,1 -> ids 1,1,2,3,3 (b' = 2); rows of a query are
    # constant along keys of the same grid row.
    expected = [[2, 2, 2, 1, 1, 1, 1, 1, 1],
                [2, 2, 2, 1, 1, 1, 1, 1, 1],
                [2, 2, 2, 1, 1, 1, 1, 1, 1],
                [3, 3, 3, 2, 2, 2, 1, 1, 1],
                [3, 3, 3, 2, 2, 2, 1, 1, 1],
                [3, 3, 3, 2, 2, 2, 1, 1, 1],
                [3, 3, 3, 3, 3, 3, 2, 2, 2],
                [3, 3, 3, 3, 3, 3, 2, 2, 2],
                [3, 3, 3, 3, 3, 3, 2, 2, 2]]
    assert _code_map("cross_rows", 1.0, 3, 3, 0, "piecewise") == expected
    # Clip keeps |dr| = 2 exact.
    assert _code_map("cross_rows", 1.0, 3, 3, 0, "clip")[0] == [2, 2, 2, 1, 1, 1, 0, 0, 0]


# Ratio 0.5 (b' 1: piecewise equals sign), 1.0 (piecewise differs from clip on these grids), 10.0 (every
# offset inside alpha: identity range).
@pytest.mark.parametrize("method", SITE_METHODS)
@pytest.mark.parametrize("index", ["piecewise", "clip"])
@pytest.mark.parametrize("ratio", [0.5, 1.0, 10.0])
@pytest.mark.parametrize("grid", [(3, 3), (2, 5)])
@pytest.mark.parametrize("skip", [0, 1])
def test_small_grids_match_reference(method, index, ratio, grid, skip):
    expected = spec_bucket_map(method, ratio, *grid, skip, index)
    assert _code_map(method, ratio, *grid, skip, index) == expected


def test_piecewise_matters_at_ratio_one_and_identity_at_ten():
    # Guards the choice of ratios above: the piecewise branch changes the 3x3 map at ratio 1.0 only.
    for method in SITE_METHODS:
        assert spec_bucket_map(method, 10.0, 3, 3) == spec_bucket_map(method, 10.0, 3, 3, index="clip")
    assert spec_bucket_map("product", 1.0, 3, 3) != spec_bucket_map("product", 1.0, 3, 3, index="clip")


@settings(max_examples=40, deadline=None)
@given(method=st.sampled_from(SITE_METHODS), index=st.sampled_from(["piecewise", "clip"]),
       ratio=st.sampled_from([0.5, 1.0, 1.5, 1.9, 2.0, 2.5, 3.0, 20.0, 33.0]),
       height=st.integers(1, 7), width=st.integers(1, 7), skip=st.integers(0, 3))
def test_random_grids_match_reference(method, index, ratio, height, width, skip):
    assert _code_map(method, ratio, height, width, skip, index) == \
        spec_bucket_map(method, ratio, height, width, skip, index)


def test_several_prefix_tokens_read_the_last_bucket():
    ids = bucket_map("product", 1.9, 2, 3, 2)
    assert ids.shape == (8, 8)
    assert (ids[:2, :] == 49).all() and (ids[:, :2] == 49).all()
    assert (ids[2:, 2:] < 49).all()


def test_used_bucket_counts_on_14x14_with_class_token():
    assert used_buckets("product", 1.9, 14, 14, 1) == 50
    assert used_buckets("euc", 20, 14, 14, 1) == 20
    assert used_buckets("quant", 33, 14, 14, 1) == 51
    assert used_buckets("cross", 20, 14, 14, 1) == 56
    assert used_buckets("product", 1.9, 14, 14, 0) == 49


def test_allocated_sizes():
    assert allocated_buckets("product", 1.9, 1) == 50
    assert allocated_buckets("euc", 20, 1) == 82
    assert allocated_buckets("quant", 33, 1) == 134
    assert allocated_buckets("cross_rows", 20, 1) == allocated_buckets("cross_cols", 20, 1) == 82
    assert total_allocated_buckets("cross", 20, 1) == 164
    for method in SITE_METHODS:
        for ratio in (1.9, 2.0, 2.5, 3.0):
            for skip in (0, 1, 2):
                assert allocated_buckets(method, ratio, skip) == spec_allocated(method, ratio, skip)
    # DETR flag sizes (skip 0): 7x7, 9x9, 11x11, 13x13.
    assert [allocated_buckets("product", r, 0) for r in (1.9, 2.0, 2.5, 3.0)] == [49, 81, 121, 169]


def test_non_square_grid_is_not_transposed():
    ids = bucket_map("product", 10.0, 2, 5)
    # Query (1, 4) = token 9 against key (0, 0) = token 0: offset (1, 4) -> (1+20)*41 + 4+20.
    assert ids[9, 0].item() == 21 * 41 + 24
    # The transposed grid (5 x 2) puts token 9 at (4, 1): a different bucket.
    assert bucket_map("product", 10.0, 5, 2)[9, 0].item() == 24 * 41 + 21


def test_unknown_site_method_is_rejected():
    with pytest.raises(ValueError, match="cross"):
        bucket_map("cross", 1.9, 3, 3)


@settings(max_examples=40, deadline=None)
@given(method=st.sampled_from(["euc", "quant", "product", "cross"]), index=st.sampled_from(["piecewise", "clip"]),
       ratio=st.sampled_from([0.5, 1.0, 1.9, 2.0, 3.0, 20.0]), height=st.integers(1, 6), width=st.integers(1, 6),
       skip=st.integers(0, 2))
def test_used_buckets_match_reference(method, index, ratio, height, width, skip):
    assert used_buckets(method, ratio, height, width, skip, index) == \
        spec_used(method, ratio, height, width, skip, index)


def test_unknown_method_in_counts_is_rejected():
    with pytest.raises(ValueError, match="hex"):
        used_buckets("hex", 1.9, 3, 3)


def test_counts_work_under_a_meta_default_device():
    # Models are built on the meta device to count parameters; suffix parsing counts buckets meanwhile.
    with torch.device("meta"):
        assert used_buckets("product", 1.9, 14, 14, 1) == 50


def test_maps_are_cached_per_key():
    first = bucket_map("product", 1.9, 14, 10, 1, "piecewise", "cpu")
    assert bucket_map("product", 1.9, 14, 10, 1, "piecewise", "cpu") is first
    assert bucket_map("product", 1.9, 10, 14, 1, "piecewise", "cpu") is not first
