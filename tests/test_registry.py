"""Registry: entry-point discovery (built-ins and a third-party plugin), aliases, readable errors."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from colorbench.api import HintKind, Hints
from colorbench.registry import MODELS, Registry, UnknownNameError, resolve_model_names


def test_builtins_come_from_entry_points_with_the_ours_alias():
    assert {"guidingpainter", "rtug", "alacgan", "pix2pix", "cic"} <= set(MODELS.names())
    assert MODELS.origin("rtug").startswith("entry point")
    assert MODELS.canonical("ours") == "guidingpainter"
    assert MODELS.canonical("OURS") == "guidingpainter"
    assert resolve_model_names("ours,rtug,ours") == ["guidingpainter", "rtug"]


def test_unknown_name_lists_known_ones_and_suggests():
    with pytest.raises(UnknownNameError) as err:
        MODELS.get("rtgu")
    msg = str(err.value)
    assert "Did you mean 'rtug'" in msg and "guidingpainter" in msg and "pix2pix" in msg


def test_invalid_registration_is_refused():
    reg: Registry = Registry("model", "colorbench.tests.none")
    with pytest.raises(ValueError):
        reg.register("bad name!", object())


PLUGIN = '''
"""A third-party colorizer shipped in its own distribution."""
import torch
from colorbench.api import HintKind
from colorbench.model import ColorizerModel


class MeanHint(ColorizerModel):
    name = "meanhint"
    display_name = "Mean of hints"
    hint_kind = HintKind.POINT
    aliases = ("mh",)

    def colorize(self, sketch, hints):
        b = sketch.shape[0]
        area = hints.mask.sum(dim=(1, 2, 3)).clamp_min(1)
        mean = (hints.color.sum(dim=(2, 3)) / area[:, None]).view(b, 3, 1, 1)
        return mean.expand(b, 3, *sketch.shape[-2:]).clamp(-1, 1)
'''


def test_third_party_model_is_discovered_through_entry_points_and_runs(tmp_path, monkeypatch):
    # A real installed-distribution layout on sys.path: the same mechanism `pip install plugin` creates.
    (tmp_path / "cb_plugin_demo.py").write_text(textwrap.dedent(PLUGIN))
    dist = tmp_path / "cb_plugin_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: cb-plugin-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[colorbench.models]\nmeanhint = cb_plugin_demo:MeanHint\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        MODELS.discover(force=True)
        assert "meanhint" in MODELS.names()
        assert "cb-plugin-demo" in MODELS.origin("meanhint")
        cls = MODELS.get("mh")  # its own alias works too
        model = cls.from_config({})
        sketch = torch.zeros(2, 1, 8, 8)
        hints = Hints(torch.zeros(2, 3, 8, 8), torch.zeros(2, 1, 8, 8))
        hints.color[:, 0, :2, :2] = 0.5
        hints.mask[:, :, :2, :2] = 1
        out = model.colorize(sketch, hints)
        assert out.shape == (2, 3, 8, 8) and torch.allclose(out[:, 0], torch.full((2, 8, 8), 0.5))
        assert cls.hint_kind is HintKind.POINT
    finally:
        MODELS.unregister("meanhint")
        sys.modules.pop("cb_plugin_demo", None)
