"""colorbench.data.openmoji (and benchmarks/openmoji_folders.py): the real line-art set is the designer's line groups alone, paired with the
whole drawing, without flags or skin-tone twins."""

from __future__ import annotations

import numpy as np

from colorbench.data.openmoji import colour_share, is_flag, render, split_svg

SVG = """<svg id="emoji" viewBox="0 0 72 72" xmlns="http://www.w3.org/2000/svg">
  <g id="color"><rect x="10" y="10" width="52" height="52" fill="#EA5A47"/></g>
  <g id="skin"><circle cx="36" cy="36" r="8" fill="#FCEA2B"/></g>
  <g id="line"><rect x="10" y="10" width="52" height="52" fill="none" stroke="#000000" stroke-width="2"/></g>
  <g id="line-supplement"><path d="M20,20 L52,52" stroke="#000000" stroke-width="2"/></g>
</svg>"""


def test_line_art_keeps_only_the_line_groups() -> None:
    whole, lines = split_svg(SVG)
    assert b'id="color"' in whole and b'id="skin"' in whole
    assert b'id="color"' not in lines and b'id="skin"' not in lines
    assert b'id="line"' in lines and b'id="line-supplement"' in lines


def test_rendered_line_art_is_black_on_white_and_the_colour_image_is_coloured() -> None:
    whole, lines = split_svg(SVG)
    rgb, line_art = render(whole, 64), render(lines, 64)
    assert rgb.shape == line_art.shape == (64, 64, 3)
    assert colour_share(rgb) > 0.3 and colour_share(line_art) == 0.0
    assert (line_art < 128).any() and np.median(line_art) == 255  # thin dark lines on white
    r, g, b = rgb[28, 36]  # inside the disc, off the diagonal line
    assert r > 200 and g > 200 and b < 100  # the skin group's yellow disc is in the colour image


def test_flags_are_recognised_and_other_emoji_are_not() -> None:
    assert is_flag("1F1E9-1F1EA") and is_flag("1F3F4-E0067-E0062-E0065-E006E-E0067-E007F") and is_flag("1F3F3-FE0F")
    assert not is_flag("1F600") and not is_flag("1F9D1-200D-1F373") and not is_flag("E000")
