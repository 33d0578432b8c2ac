"""FID: weight resolution and hashing, Fréchet distance maths, and an offline PLUMBING check of the extractor.

The plumbing tests drive the real torch-fidelity path with randomly initialised Inception weights; the
distances they produce are plumbing checks, not FID values.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from colorbench.checkpoints import file_sha256
from colorbench.metrics import fid

from .fid_fixtures import noise_images, write_random_inception_weights

N_IMAGES = 10
SIZE = 32


# ----------------------------------------------------------------------------------------------------------
# resolve_weights


@pytest.fixture
def cache_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty TORCH_HOME and no COLORBENCH_FID_WEIGHTS; returns where the cached weights would live."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.delenv(fid.ENV_VAR, raising=False)
    path = fid.default_cache_path()
    assert path == tmp_path / "torch_home" / "hub" / "checkpoints" / fid.WEIGHTS_FILENAME
    return path


def _write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_no_weights_anywhere_is_unavailable_with_actionable_reason(cache_path: Path) -> None:
    w = fid.resolve_weights(None)
    assert not w.available and w.label == "n/a"
    for needle in ("--fid-weights", fid.ENV_VAR, fid.WEIGHTS_FILENAME, str(cache_path)):
        assert needle in w.reason
    with pytest.raises(fid.FidWeightsError, match="--fid-weights"):
        fid.InceptionFeatures(w)


def test_order_is_argument_then_env_then_cache(
    cache_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = _write(cache_path, b"cache file")
    # No real file can carry the standard prefix here, so declare the cache file's hash standard.
    monkeypatch.setattr(fid, "STANDARD_SHA256_PREFIX", file_sha256(cached)[:8])
    arg = _write(tmp_path / "arg.pth", b"argument file")
    env = _write(tmp_path / "env.pth", b"env file")
    monkeypatch.setenv(fid.ENV_VAR, str(env))

    w = fid.resolve_weights(str(arg))
    assert (w.source, w.path, w.sha256) == ("argument", arg, file_sha256(arg))
    w = fid.resolve_weights(None)
    assert (w.source, w.path) == ("env", env)
    monkeypatch.delenv(fid.ENV_VAR)
    w = fid.resolve_weights(None)
    assert (w.source, w.path, w.available, w.standard) == ("cache", cached, True, True)
    assert w.label == fid.LABEL_STANDARD


def test_explicit_non_standard_file_is_used_but_labelled(cache_path: Path, tmp_path: Path) -> None:
    w = fid.resolve_weights(_write(tmp_path / "mine.pth", b"not the release file"))
    assert w.available and not w.standard
    assert w.label == "non-standard weights"
    assert w.to_json()["label"] == "non-standard weights"


def test_cache_file_with_wrong_hash_is_refused_not_loaded(cache_path: Path) -> None:
    _write(cache_path, b"truncated download")
    w = fid.resolve_weights(None)
    assert not w.available and w.source == "cache"
    assert "sha256" in w.reason and "--fid-weights" in w.reason and str(cache_path) in w.reason
    with pytest.raises(fid.FidWeightsError, match="sha256"):
        fid.InceptionFeatures(w)


@pytest.mark.parametrize("via", ["argument", "env"])
def test_explicit_missing_file_raises_naming_it(
    via: str, cache_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "typo.pth"
    if via == "env":
        monkeypatch.setenv(fid.ENV_VAR, str(missing))
    with pytest.raises(fid.FidWeightsError, match="typo.pth"):
        fid.resolve_weights(str(missing) if via == "argument" else None)


def test_weights_status_is_json_with_the_keys_protocols_read(cache_path: Path, tmp_path: Path) -> None:
    for w in (fid.resolve_weights(None), fid.resolve_weights(_write(tmp_path / "x.pth", b"x"))):
        blob = json.loads(json.dumps(w.to_json()))
        assert {"available", "reason", "weights_sha256", "standard"} <= set(blob)
        assert blob["available"] == w.available and blob["weights_sha256"] == w.sha256


def test_importing_colorbench_does_not_import_torch_fidelity() -> None:
    code = "import sys, colorbench, colorbench.metrics.fid; print(sorted(m for m in sys.modules if 'fidelity' in m))"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "[]"


# ----------------------------------------------------------------------------------------------------------
# PLUMBING check of InceptionFeatures (random weights: values here are not FID)


@pytest.fixture(scope="module")
def random_weights_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_random_inception_weights(
        tmp_path_factory.mktemp("inception") / "random_inception.pth", seed=0
    )


@pytest.fixture(scope="module")
def plumbing_extractor(random_weights_path: Path) -> fid.InceptionFeatures:
    torch.set_num_threads(1)
    return fid.InceptionFeatures(fid.resolve_weights(random_weights_path), "cpu", batch_size=16)


@pytest.fixture(scope="module")
def dark_features(plumbing_extractor: fid.InceptionFeatures) -> np.ndarray:
    return plumbing_extractor(noise_images(N_IMAGES, SIZE, 0, 128, seed=1))


def test_plumbing_random_weights_load_through_torch_fidelity_as_non_standard(
    plumbing_extractor: fid.InceptionFeatures,
) -> None:
    info = plumbing_extractor.describe()
    assert info["weights"]["label"] == "non-standard weights" and info["layer"] == "2048"


def test_plumbing_features_shape_dtype_and_spread(dark_features: np.ndarray) -> None:
    assert dark_features.shape == (N_IMAGES, 2048) and dark_features.dtype == np.float64
    assert np.isfinite(dark_features).all()
    # Vanishing features (default init, wrong preprocessing) would make every distance ≈ 0.
    assert dark_features.std(axis=0).mean() > 1e-4


def test_plumbing_features_deterministic_across_calls_batches_and_rebuilds(
    random_weights_path: Path,
    plumbing_extractor: fid.InceptionFeatures,
    dark_features: np.ndarray,
    tmp_path: Path,
) -> None:
    images = noise_images(N_IMAGES, SIZE, 0, 128, seed=1)
    np.testing.assert_array_equal(plumbing_extractor(images), dark_features)
    small_batches = fid.InceptionFeatures(plumbing_extractor.weights, "cpu", batch_size=3)
    np.testing.assert_allclose(small_batches(images), dark_features, rtol=1e-5, atol=1e-7)
    # torch.save embeds the file stem in its archive, so compare tensors rather than file hashes.
    rebuilt = torch.load(write_random_inception_weights(tmp_path / "again.pth", seed=0), weights_only=True)
    original = torch.load(random_weights_path, weights_only=True)
    assert rebuilt.keys() == original.keys()
    assert all(torch.equal(rebuilt[k], original[k]) for k in original)


def test_plumbing_distance_zero_for_same_set_positive_for_shifted_set(
    plumbing_extractor: fid.InceptionFeatures, dark_features: np.ndarray
) -> None:
    images = noise_images(N_IMAGES, SIZE, 0, 128, seed=1)
    shifted = plumbing_extractor((images.int() + 100).clamp(0, 255).to(torch.uint8))
    other_dark = plumbing_extractor(noise_images(N_IMAGES, SIZE, 0, 128, seed=2))
    same = fid.frechet_distance(dark_features, dark_features)
    assert abs(same) < 1e-6
    d_shift = fid.frechet_distance(dark_features, shifted)
    d_resample = fid.frechet_distance(dark_features, other_dark)
    assert d_shift > 0 and d_shift > 10 * d_resample > 10 * abs(same)


def test_features_reject_float_images(plumbing_extractor: fid.InceptionFeatures) -> None:
    with pytest.raises(ValueError, match="uint8"):
        plumbing_extractor(torch.zeros(2, 3, SIZE, SIZE))


PAYLOAD_CALLS: list[str] = []


def _payload() -> dict:
    PAYLOAD_CALLS.append("ran")
    return {}


class _Payload:
    def __reduce__(self):
        return (_payload, ())


def test_pickle_payload_in_explicit_weights_is_refused_without_running(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save(_Payload(), path)
    w = fid.resolve_weights(path)
    with pytest.raises(fid.FidWeightsError, match="evil.pth"):
        fid.InceptionFeatures(w)
    assert PAYLOAD_CALLS == []


def test_state_dict_of_another_network_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3)}, path)
    with pytest.raises(fid.FidWeightsError, match="resnet.pth"):
        fid.InceptionFeatures(fid.resolve_weights(path))


# ----------------------------------------------------------------------------------------------------------
# frechet_distance / fid_from_features


def _axis_cloud(mu: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points mu ± c_d e_d: sample mean exactly mu, unbiased covariance exactly diag(2c²/(2D−1))."""
    d = len(mu)
    offsets = np.concatenate([np.diag(c), -np.diag(c)])
    return mu + offsets, 2.0 * c**2 / (2 * d - 1)


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians() -> None:
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    x1, var1 = _axis_cloud(mu1, rng.uniform(0.5, 3.0, size=8))
    x2, var2 = _axis_cloud(mu2, rng.uniform(0.1, 2.0, size=8))
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2.0 * np.sqrt(var1 * var2))
    assert fid.frechet_distance(x1, x2) == pytest.approx(expected, abs=1e-6)
    assert fid.frechet_distance(x2, x1) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("n, m, d", [(300, 250, 16), (10, 12, 64)])  # full D×D path; reduced N+M+1 < D path
def test_frechet_distance_matches_torch_fidelity_statistics(n: int, m: int, d: int) -> None:
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(1)
    a = rng.normal(size=(n, d)) @ rng.normal(size=(d, d))
    b = rng.normal(size=(m, d)) @ rng.normal(size=(d, d)) + 0.5
    stats = [fid_features_to_statistics(torch.from_numpy(x)) for x in (a, b)]
    reference = fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    if n + m + 1 >= d:  # the full path is torch-fidelity's computation itself: the same float
        assert fid.frechet_distance(a, b) == reference
    else:
        # The reduced path drops the D − (N+M+1) zero eigenvalues whose ~√eps noise the full D×D
        # eigenproblem adds to the trace: equal up to that noise.
        assert fid.frechet_distance(a, b) == pytest.approx(reference, rel=1e-6)
    assert abs(fid.frechet_distance(a, a)) < 1e-6 * reference


def test_frechet_distance_of_stored_float32_features_matches_torch_fidelity() -> None:
    """Features are cached as float32, as torch-fidelity's extractor returns them; they are compared in float64."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(6)
    a = np.abs(rng.normal(size=(400, 24))).astype(np.float32)
    b = np.abs(rng.normal(size=(300, 24)) + 0.3).astype(np.float32)
    stats = [fid_features_to_statistics(torch.from_numpy(x)) for x in (a, b)]  # calculate_metrics' inputs
    reference = fid_statistics_to_metric(*stats, verbose=False)["frechet_inception_distance"]
    assert fid.frechet_distance(a, b) == pytest.approx(reference, rel=1e-5)


def test_fid_weights_help_names_the_file_the_code_expects() -> None:
    from click.testing import CliRunner

    from colorbench.cli import main

    for command in ("run", "check"):
        res = CliRunner().invoke(main, [command, "--help"], terminal_width=400)
        assert fid.WEIGHTS_FILENAME in res.output and fid.ENV_VAR in res.output, command


def test_reduced_path_equals_scipy_sqrtm_and_exact_nuclear_norm() -> None:
    from scipy.linalg import sqrtm

    rng = np.random.default_rng(5)
    a = rng.normal(size=(12, 96)) * rng.uniform(0.1, 2.0, size=96)
    b = rng.normal(size=(9, 96)) * rng.uniform(0.1, 2.0, size=96) + 0.2
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    base = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sa) + np.trace(sb)
    full = base - 2.0 * np.trace(sqrtm(sa @ sb)).real
    # tr((ΣaΣb)^½) = nuclear norm of Cb·Caᵀ / √((N−1)(M−1)) for centred features Ca, Cb: exact, no sqrtm.
    nuclear = np.linalg.svd((b - b.mean(0)) @ (a - a.mean(0)).T, compute_uv=False).sum() / np.sqrt(11 * 8)
    value = fid.frechet_distance(a, b)
    assert value == pytest.approx(base - 2.0 * nuclear, rel=1e-7)
    assert value == pytest.approx(full, rel=1e-6)


def test_bad_feature_sets_raise_clear_errors() -> None:
    with pytest.raises(fid.FidError, match="at least 2"):
        fid.frechet_distance(np.zeros((1, 4)), np.zeros((5, 4)))
    with pytest.raises(fid.FidError, match="dimensions differ"):
        fid.frechet_distance(np.ones((5, 4)) * np.arange(5)[:, None], np.ones((5, 3)) * np.arange(5)[:, None])
    with pytest.raises(fid.FidError, match="NaN"):
        fid.frechet_distance(np.full((3, 2), np.nan), np.zeros((3, 2)))


def test_fid_from_features_reports_counts_and_warns_below_2048() -> None:
    rng = np.random.default_rng(4)
    small = fid.fid_from_features(rng.normal(size=(100, 4)), rng.normal(size=(120, 4)))
    assert (small["n_fake"], small["n_real"]) == (100, 120)
    assert "2048" in small["warning"]
    big = fid.fid_from_features(rng.normal(size=(2048, 4)), rng.normal(size=(2100, 4)))
    assert big["warning"] is None and big["value"] >= 0 and big["value"] < 0.05
