"""Bucket pictures: the text grid is the spec's bucket map row for the query; the PNG is a real image."""
import re

import pytest
from PIL import Image

from ablate.rpe import RPEConfig
from ablate.rpe.plot import DPI, FIGURE_INCHES, bucket_figure, bucket_text
from test_rpe_spec import PRODUCT_3x3_R1_QUERY4, spec_allocated, spec_bucket_map


def _grids(text: str) -> list[list[list[int]]]:
    """The number grids of bucket_text, one per table (header and prefix lines dropped)."""
    grids = []
    for block in text.split("\n\n"):
        rows = [line for line in block.splitlines()[1:] if not line.startswith("prefix")]
        grids.append([[int(v) for v in re.findall(r"\d+", line)] for line in rows])
    return grids


def test_text_3x3_centre_is_the_spec():
    text = bucket_text(RPEConfig(method="product", ratio=1.0, prefix=1), 3, 3, query=(1, 1))
    assert _grids(text) == [[PRODUCT_3x3_R1_QUERY4[0:3], PRODUCT_3x3_R1_QUERY4[3:6], PRODUCT_3x3_R1_QUERY4[6:9]]]
    assert "[12]" in text  # the query's own cell is marked
    assert f"read bucket {spec_allocated('product', 1.0, 1) - 1}" in text


@pytest.mark.parametrize("method", ["euc", "quant", "cross", "product"])
@pytest.mark.parametrize("index", ["piecewise", "clip"])
@pytest.mark.parametrize("grid,query", [((3, 3), (0, 0)), ((2, 5), (1, 3))])
def test_text_matches_reference(method, index, grid, query):
    height, width = grid
    config = RPEConfig(method=method, ratio=1.0, index=index)
    tables = ["cross_rows", "cross_cols"] if method == "cross" else [method]
    token = query[0] * width + query[1]
    expected = []
    for table in tables:
        row = spec_bucket_map(table, 1.0, height, width, 0, index)[token]
        expected.append([row[r * width:(r + 1) * width] for r in range(height)])
    assert _grids(bucket_text(config, height, width, query=query)) == expected


def test_text_rejects_a_query_outside_the_grid():
    with pytest.raises(ValueError, match="outside"):
        bucket_text(RPEConfig(), 3, 3, query=(3, 0))


@pytest.mark.parametrize("method,tables", [("product", 1), ("cross", 2)])
def test_png_is_a_valid_image_of_the_expected_size(tmp_path, method, tables):
    path = bucket_figure(RPEConfig(method=method, ratio=1.9, prefix=1), 14, 10, tmp_path / "buckets.png")
    assert path.exists()
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == (round(FIGURE_INCHES[0] * DPI), round(FIGURE_INCHES[1] * DPI * tables))
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # drawn, not blank
