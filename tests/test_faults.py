"""The fault-injection suite: `run`, `prepare` and `check` interrupted (kill -9, SIGTERM, Ctrl-C) at seeded
random points exit 130/143, leave every visible file whole, and the next run leaves no litter and ends where a
clean run does; concurrent runs into one folder end where sequential ones do; every JSON and CSV the toolkit
reads, mutated, is refused with exit code 2 and one line naming the file — never a traceback.

Commands run as forked children of one preloaded process (tests/faults.py), on tiny inputs: the `floor` model
(no checkpoint) and the shipped RTUG on 4 toon images at 32 px, a 6-image prepared set.
"""

from __future__ import annotations

import json
import random
import signal
import struct
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from colorbench.data.synthetic import Toon
from colorbench.evaluation.records import read_records

from .faults import EXIT_CODES, Fault, ForkServer, litter, load_whole

SEED = 22  # every random point below comes from it: a failure names its case, and reruns hit the same point
SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
TINY = ["--dataset", "toon", "--limit", "4", "--size", "32", "--no-fid", "--quiet", "--modes", "native",
        "--sweep", "2", "--samples", "1", "--batch-size", "1"]


def _run_args(out: Path, models: str = "floor") -> list[str]:
    return ["run", "--models", models, "--out", str(out), *TINY]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    s = ForkServer(warm=tmp_path_factory.mktemp("warm"))
    yield s
    s.close()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


def _ok(server: ForkServer, args: list[str], log: Path, **kw) -> str:
    rc = server.run(args, log, **kw)
    text = log.read_text()
    assert rc == 0 and "Traceback" not in text, text[-3000:]
    return text


def _loads_all(folder: Path) -> None:
    """Every visible file of `folder` is whole: it opens the way its readers open it."""
    for path in folder.rglob("*"):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts):
            load_whole(path)


def _renames(server: ForkServer, args: list[str], log: Path) -> int:
    """How many renames a clean run of `args` makes: the range the random points are drawn from."""
    counter = log.with_suffix(".count")
    _ok(server, args, log, fault=Fault(count_to=str(counter)))
    return int(counter.read_text())


def _points(n: int, renames: int, salt: str) -> list[Fault]:
    rng = random.Random(f"{SEED}-{salt}")
    return [Fault(signal=int(SIGNALS[i % 3]), rename=rng.randint(1, renames), after=rng.random() < 0.5)
            for i in range(n)]


def _interrupt(server: ForkServer, args: list[str], log: Path, fault: Fault, **kw) -> None:
    rc = server.run(args, log, fault, **kw)
    text = log.read_text()
    assert rc == EXIT_CODES[signal.Signals(fault.signal)], f"{fault}: rc {rc}\n{text[-3000:]}"
    assert "Traceback" not in text, f"{fault}\n{text[-3000:]}"


# --------------------------------------------------------------------------------------------- run
@pytest.mark.slow
def test_run_interrupted_at_random_points_resumes_to_the_clean_records(server: ForkServer, work: Path) -> None:
    clean = work / "run-clean"
    cold = _renames(server, _run_args(clean), work / "run-clean.log")
    warm = _renames(server, _run_args(clean), work / "run-clean-again.log")  # all from the cache: fewer renames
    want = read_records(clean / "records.csv")
    faults = [(i, f) for i, f in enumerate(_points(4, cold, "run"))] + \
        [(i + 4, f) for i, f in enumerate(_points(2, warm, "run-warm"))]
    for i, fault in faults:
        out = work / f"run-{i}"
        if i >= 4:  # into a folder holding an earlier finished run (its results must survive)
            _ok(server, _run_args(out), work / f"run-{i}-first.log")
        _interrupt(server, _run_args(out), work / f"run-{i}-cut.log", fault)
        _loads_all(out)
        if i >= 4:
            pd.testing.assert_frame_equal(read_records(out / "records.csv"), want, check_exact=True, obj=str(fault))
        _ok(server, _run_args(out), work / f"run-{i}-resume.log")
        assert not litter(out), f"{fault}: {litter(out)}"
        pd.testing.assert_frame_equal(read_records(out / "records.csv"), want, check_exact=True, obj=str(fault))


def test_concurrent_runs_one_interrupted_end_where_sequential_runs_do(server: ForkServer, work: Path) -> None:
    sequential = work / "seq"
    for models in ("floor", "rtug"):
        _ok(server, _run_args(sequential, models), work / f"seq-{models}.log")
    want = read_records(sequential / "records.csv")
    rng = random.Random(f"{SEED}-concurrent")
    for i, cut in enumerate((None, "rtug")):
        out = work / f"conc-{i}"
        faults = {m: Fault(signal=int(SIGNALS[i]), delay=rng.uniform(0.3, 1.5)) if m == cut else None
                  for m in ("floor", "rtug")}
        pids = {m: server.start(_run_args(out, m), work / f"conc-{i}-{m}.log", faults[m]) for m in faults}
        rcs = {m: server.wait(pid) for m, pid in pids.items()}
        for m, rc in rcs.items():
            text = (work / f"conc-{i}-{m}.log").read_text()
            # A delay may outlast the run: then it finished (0); otherwise the signal's code.
            allowed = {0} if faults[m] is None else {0, EXIT_CODES[signal.Signals(faults[m].signal)]}
            assert rc in allowed and "Traceback" not in text, f"{m} {faults[m]}: rc {rc}\n{text[-3000:]}"
        if cut:
            _ok(server, _run_args(out, cut), work / f"conc-{i}-resume.log")
        assert not litter(out), litter(out)
        pd.testing.assert_frame_equal(read_records(out / "records.csv"), want, check_exact=True)
        assert set(json.loads((out / "run.json").read_text())["variants"]) == {"floor", "rtug"}


# --------------------------------------------------------------------------------------------- prepare
@pytest.fixture(scope="module")
def src(work: Path) -> Path:
    folder = work / "src"
    folder.mkdir()
    toon = Toon("val", 48)
    for i in range(6):
        Image.fromarray(toon.load(toon.ids()[i])[1]).save(folder / f"{i}.png")
    return folder


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def test_prepare_interrupted_at_random_points_leaves_the_dataset_whole(server: ForkServer, work: Path,
                                                                       src: Path) -> None:
    def args(root: Path) -> list[str]:
        return ["prepare", "mine", "--src", str(src), "--data-root", str(root), "--size", "32", "--overwrite"]

    clean = work / "prep-clean"
    renames = _renames(server, args(clean), work / "prep-clean.log")
    want = _tree(clean / "mine")
    # Over an earlier copy (--overwrite) a prepare makes one rename more, moving that copy aside before the new one
    # moves in: random points, and the moment between those two renames (Ctrl-C there must put the copy back).
    cases = [(False, f) for f in _points(2, renames, "prepare")]
    cases += [(True, f) for f in _points(2, renames + 2, "prepare-over")]
    cases += [(True, Fault(signal=int(sig), rename=renames + 1, after=True)) for sig in SIGNALS]
    for i, (over, fault) in enumerate(cases):
        root = work / f"prep-{i}"
        if over:  # it replaces an earlier prepared copy: that copy must never be lost
            _ok(server, args(root), work / f"prep-{i}-first.log")
        _interrupt(server, args(root), work / f"prep-{i}-cut.log", fault)
        if over and fault.signal != signal.SIGKILL:  # Ctrl-C or SIGTERM: a whole copy is in place
            assert _tree(root / "mine") == want, fault
        _ok(server, args(root), work / f"prep-{i}-again.log")
        assert not litter(root), f"{fault}: {litter(root)}"
        assert _tree(root / "mine") == want, fault


# --------------------------------------------------------------------------------------------- check
def test_check_interrupted_at_random_points_leaves_no_temp_folder(server: ForkServer, work: Path) -> None:
    tmp = work / "check-tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    baseline = work / "rtug-base.json"
    common = ["check", "--model", "rtug", "--dataset", "toon", "--no-fid", "--limit", "2", "--size", "32",
              "--reference", str(baseline)]
    _ok(server, [*common, "--update-reference"], work / "check-base.log", env=env)
    renames = _renames(server, common, work / "check-clean.log")
    for i, fault in enumerate(_points(2, renames, "check") + [Fault(signal=int(signal.SIGKILL), rename=2)]):
        _interrupt(server, common, work / f"check-{i}-cut.log", fault, env=env)
        _ok(server, [*common, "--json"], work / f"check-{i}-again.log", env=env)
        assert not list(tmp.glob("colorbench-check*")), f"{fault}: {list(tmp.iterdir())}"


# --------------------------------------------------------------------------------------------- bad files
def _mutations(text: str, salt: str, keys: tuple[str, ...] = ()) -> list[tuple[str, bytes]]:
    """(name, new content) of a JSON file: truncated, garbage bytes, wrong shapes, and each of `keys` (the fields
    its reader uses; every one when empty) of the wrong type."""
    rng = random.Random(f"{SEED}-{salt}")
    data = text.encode()
    out = [("truncated", data[: len(data) // 2]), ("empty", b""),
           ("garbage", bytes(rng.getrandbits(8) for _ in range(200))), ("list", b"[1, 2]"), ("null", b"null")]
    doc = json.loads(text)
    if isinstance(doc, dict):
        for key in sorted(k for k in doc if k in keys or not keys):
            value = doc[key]
            wrong = "wide" if not isinstance(value, str) else [1, 2]
            out.append((f"{key}={json.dumps(wrong)}", json.dumps(doc | {key: wrong}).encode()))
    return out


def _refused_or_fine(server: ForkServer, args: list[str], log: Path, path: Path, case: str,
                     must_refuse: bool) -> None:
    rc = server.run(args, log)
    text = log.read_text()
    assert "Traceback" not in text, f"{path.name} {case}:\n{text[-3000:]}"
    assert rc in ((2,) if must_refuse else (0, 2)), f"{path.name} {case}: rc {rc}\n{text[-2000:]}"
    if rc == 2:  # one line naming the file, as the last line of the output
        last = text.strip().splitlines()[-1]
        assert last.startswith("error:") and str(path) in text, f"{path.name} {case}:\n{text[-2000:]}"


@pytest.fixture(scope="module")
def finished(server: ForkServer, work: Path) -> Path:
    out = work / "finished"
    _ok(server, _run_args(out, "floor"), work / "finished.log")
    return out


@pytest.mark.parametrize("name", ["run.json", "records.csv", "results.json"])
def test_a_mutated_run_folder_file_is_refused_naming_it(server: ForkServer, work: Path, finished: Path,
                                                        name: str) -> None:
    path = finished / name
    original = path.read_text()
    if name == "records.csv":
        lines = original.splitlines(keepends=True)
        cases = [("truncated", original.encode()[: len(original) // 2 + 7]), ("header only", lines[0].encode()),
                 ("garbage", random.Random(SEED).randbytes(300)), ("empty", b""),
                 ("psnr text", original.replace(lines[1].split(",")[6], "high", 1).encode()),
                 ("n not int", (lines[0] + lines[1].replace(",native,", ",native,1.5x,", 1)).encode())]
    else:
        cases = _mutations(original, name, ("variants", "dataset", "protocol", "config", "fid", "cache"))
    try:
        for case, content in cases:
            path.write_bytes(content)
            # results.json is only ever written: a report replaces it whatever it held.
            _refused_or_fine(server, ["report", str(finished)], work / "mut.log", path, case, name != "results.json")
            if name == "run.json":  # a run into the folder reads it too, to merge (records.csv: only other variants')
                path.write_bytes(content)
                _refused_or_fine(server, _run_args(finished, "floor"), work / "mut.log", path, case, True)
            path.write_text(original)
            if name == "results.json" and case == "list":
                break  # the rest would only test that a file nobody reads is overwritten
    finally:
        path.write_text(original)


def test_a_mutated_baseline_is_refused_naming_it(server: ForkServer, work: Path) -> None:
    baseline = work / "base-mut.json"
    common = ["check", "--model", "rtug", "--dataset", "toon", "--no-fid", "--limit", "2", "--size", "32",
              "--reference", str(baseline)]
    _ok(server, [*common, "--update-reference"], work / "base-mut.log")
    original = baseline.read_text()
    read = ("format", "metrics", "tolerances", "n_images", "size", "dataset_fingerprint")
    for case, content in _mutations(original, "baseline", read):
        baseline.write_bytes(content)
        _refused_or_fine(server, common, work / "base-mut.log", baseline, case, True)


def _with_metadata(source: Path, target: Path, metadata: bytes) -> None:
    """A copy of the safetensors file `source` whose colorbench metadata string is `metadata` (same tensors)."""
    data = source.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"]["colorbench"] = metadata.decode("latin-1")
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    target.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])


def test_a_checkpoint_with_mutated_metadata_is_refused_naming_it(server: ForkServer, work: Path) -> None:
    from colorbench.evaluation.variants import zoo_checkpoint

    shipped = zoo_checkpoint("rtug", "toon")
    meta = json.loads(json.loads(shipped.read_bytes()[8 : 8 + struct.unpack("<Q", shipped.read_bytes()[:8])[0]])
                      ["__metadata__"]["colorbench"])
    ckpt = work / "mut.safetensors"
    cases = _mutations(json.dumps(meta), "metadata", ("model", "config", "dataset", "size"))
    cases += [("width=1e6", json.dumps(meta | {"config": meta["config"] | {"width": 1e6}}).encode()),
              ("width=wide", json.dumps(meta | {"config": meta["config"] | {"width": "wide"}}).encode())]
    for case, content in cases:
        _with_metadata(shipped, ckpt, content)
        _refused_or_fine(server, ["run", "--models", "", "--checkpoint", f"rtug={ckpt}", "--out",
                                  str(work / "mut-ckpt"), *TINY], work / "ckpt-mut.log", ckpt, case, True)
    garbage = work / "garbage.safetensors"
    garbage.write_bytes(struct.pack("<Q", 64) + b"{" * 64)  # a header that is not JSON at all
    _refused_or_fine(server, ["run", "--models", "", "--checkpoint", f"rtug={garbage}", "--out",
                              str(work / "mut-ckpt"), *TINY], work / "ckpt-mut.log", garbage, "header", True)


def test_a_mutated_manifest_is_refused_naming_it(server: ForkServer, work: Path, src: Path) -> None:
    root = work / "manifest-root"
    _ok(server, ["prepare", "mine", "--src", str(src), "--data-root", str(root), "--size", "32"],
        work / "manifest.log")
    manifest = root / "mine" / "manifest.json"
    original = manifest.read_text()
    args = ["run", "--models", "floor", "--dataset", "mine", "--data-root", str(root), "--size", "32", "--no-fid",
            "--quiet", "--modes", "native", "--sweep", "2", "--samples", "0", "--out", str(work / "mut-manifest")]
    for case, content in _mutations(original, "manifest", ("format", "size", "images", "nri_threshold", "sketch")):
        manifest.write_bytes(content)
        _refused_or_fine(server, args, work / "manifest-mut.log", manifest, case, True)
    manifest.write_text(original)
    _ok(server, args, work / "manifest-mut.log")
    stat = root / "mine" / ".colorbench-stat.json"
    for _, content in _mutations(stat.read_text(), "stat")[:3]:  # only a cache: damaged, it is rebuilt
        stat.write_bytes(content)
        _ok(server, args, work / "manifest-mut.log")
