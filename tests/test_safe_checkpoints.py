"""No pickle is ever executed when loading: a malicious pickle passed as a checkpoint (or planted in the
result cache) is refused with a clear message and its payload never runs; no source file unpickles."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from colorbench.checkpoints import CheckpointError, load_checkpoint, read_metadata
from colorbench.cli import main
from colorbench.evaluation.engine import EvalPlan
from colorbench.evaluation.runner import RunConfig, run_evaluation

from .fakes import TinyPoint, make_checkpoint, register_fakes

REPO = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("colorbench", "guidingpainter", "baselines", "protocols", "reports", "benchmarks")


class _Payload:
    """Unpickling this creates `marker` (it calls open(marker, "w")): stands for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def _torch_pickle(path: Path, marker: Path) -> Path:
    torch.save({"net.weight": torch.zeros(2), "evil": _Payload(marker)}, path)
    return path


def _raw_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}))
    return path


@pytest.mark.parametrize("make,name", [(_torch_pickle, "evil.pt"), (_raw_pickle, "evil.pth"),
                                       (_raw_pickle, "disguised.safetensors")])
def test_malicious_pickle_checkpoint_is_refused_without_running(tmp_path: Path, make, name: str) -> None:
    register_fakes()
    # The payload is live: a full unpickle of a twin file does create its marker.
    twin_marker = tmp_path / "twin-ran"
    twin = make(tmp_path / f"twin-{name}", twin_marker)
    if name.endswith(".pt"):
        torch.load(twin, weights_only=False)
    else:
        pickle.loads(twin.read_bytes())
    assert twin_marker.exists()

    marker = tmp_path / "payload-ran"
    evil = make(tmp_path / name, marker)
    res = CliRunner().invoke(main, ["run", "--models", "", "--dataset", "blobs", "--size", "32", "--limit", "1",
                                    "--modes", "native", "--no-fid", "--quiet", "--out", str(tmp_path / "out"),
                                    "--checkpoint", f"tinypoint={evil}"], catch_exceptions=False)
    assert res.exit_code == 2
    assert f"{evil} is not a readable safetensors checkpoint" in res.output
    assert "never unpickles" in res.output and "Traceback" not in res.output
    for api in (read_metadata, load_checkpoint):
        with pytest.raises(CheckpointError, match="never unpickles"):
            api(evil)
    assert not marker.exists(), "the pickle payload ran"


def test_pickled_object_array_planted_in_the_cache_is_never_unpickled(tmp_path: Path) -> None:
    register_fakes()
    ckpt = make_checkpoint(TinyPoint, tmp_path / "p.safetensors")
    cfg = RunConfig(models=[], dataset="blobs", out=str(tmp_path / "out"), size=32, limit=2, fid=False,
                    checkpoints=[f"tinypoint={ckpt}"], plan=EvalPlan(modes=["native"], batch_size=1, n_samples=0))
    run_evaluation(cfg, progress=False)
    chunks = sorted((tmp_path / "out" / "cache").glob("*/chunk-*.npz"))
    assert len(chunks) == 2
    marker = tmp_path / "payload-ran"
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    with open(chunks[0], "wb") as fh:  # replace a finished chunk by one holding a pickled object array
        np.savez(fh, rec_columns=payload)
    out = run_evaluation(cfg, progress=False)  # the bad chunk is dropped and its image recomputed
    assert not marker.exists(), "the pickle payload ran"
    assert (out / "records.csv").read_text().count("\n") == 1 + 2 * 31


def _unsafe_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls that can unpickle: torch.load / load_state_dict_from_url without weights_only=True,
    pickle/joblib/dill loads, pandas read_pickle, torch.jit.load, np.load with allow_pickle=True."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        kw = {k.arg: ast.unparse(k.value) for k in node.keywords}
        if name.endswith(("torch.load", "load_state_dict_from_url")) and kw.get("weights_only") != "True":
            found.append((node.lineno, f"{name}(...) without weights_only=True"))
        elif name.endswith(("np.load", "numpy.load")) and kw.get("allow_pickle") not in (None, "False"):
            found.append((node.lineno, f"{name}(allow_pickle={kw['allow_pickle']})"))
        elif name.endswith(("read_pickle", "jit.load", "Unpickler")) or (
                name.split(".")[0] in ("pickle", "cPickle", "dill", "joblib", "cloudpickle") and "load" in name):
            found.append((node.lineno, name))
    return found


def test_no_source_file_can_unpickle() -> None:
    problems = []
    files = [p for d in SOURCE_DIRS for p in sorted((REPO / d).rglob("*.py"))]
    assert len(files) > 20
    for path in files:
        for line, what in _unsafe_calls(ast.parse(path.read_text(encoding="utf-8"))):
            problems.append(f"{path.relative_to(REPO)}:{line}: {what}")
    assert not problems, "code that can execute a pickle:\n" + "\n".join(problems)


def test_the_scan_would_catch_an_unsafe_load() -> None:
    src = ("import torch, numpy as np, pickle\ntorch.load(p)\nnp.load(p, allow_pickle=True)\npickle.load(f)\n"
           "torch.hub.load_state_dict_from_url(u)\npd.read_pickle(p)\n")
    assert [line for line, _ in _unsafe_calls(ast.parse(src))] == [2, 3, 4, 5, 6]
    assert _unsafe_calls(ast.parse("torch.load(p, weights_only=True)\nnp.load(p)\n")) == []
