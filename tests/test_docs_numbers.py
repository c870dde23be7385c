"""What the docs say about the default shape-token grid is what the code builds."""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import pytest

from mmvqshape.models.shape_tokens import ShapeTokensConfig, StretchGrid

ROOT = Path(__file__).resolve().parents[1]


def _fractions(text: str) -> list[Fraction]:
    return [Fraction(f) for f in re.findall(r"\d+/\d+", text)]


def test_shapes_md_gives_the_default_grid_and_its_token_count():
    text = (ROOT / "docs" / "shapes.md").read_text()
    bullet = re.search(r"\*\*Where tokens sit:\*\*(.*?)coverage 1", text, re.S)
    assert bullet, "docs/shapes.md lost its 'Where tokens sit' bullet"
    words = " ".join(bullet.group(1).split())
    cfg = ShapeTokensConfig()
    scales = re.search(r"stretches of ([\d/, and]+) of the window", words)
    assert scales and _fractions(scales.group(1)) == [Fraction(s).limit_denominator(64) for s in cfg.scales]
    count = re.search(r"(\d+) tokens per channel at (\d+) samples", words)
    assert count and int(count.group(1)) == StretchGrid.build(int(count.group(2)), cfg.scales, cfg.hop).n_tokens


@pytest.mark.parametrize("page", ["README.md"])
def test_the_model_paragraph_gives_the_default_grid(page):
    words = " ".join((ROOT / page).read_text().split())
    grid = re.search(r"multi-scale grid \(([\d/, and]+) of the window", words)
    assert grid and _fractions(grid.group(1)) == [Fraction(s).limit_denominator(64) for s in ShapeTokensConfig().scales]
