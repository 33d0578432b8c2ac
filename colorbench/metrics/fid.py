"""FID, honestly: locate and verify the Inception weights, extract torch-fidelity features, Fréchet distance.

One network only — torch-fidelity's `inception-v3-compat` (docs/protocol.md); no weights means
"n/a" with a reason, never a substitute network under the name FID. The Fréchet distance is torch-fidelity's
own computation. torch_fidelity imports lazily.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from colorbench.checkpoints import file_sha256
from colorbench.errors import UsageError
from colorbench.evaluation.forward import fixed_rows

WEIGHTS_FILENAME = "weights-inception-2015-12-05-6726825d.pth"
# torch.hub names files <stem>-<first 8 hex of sha256>.<ext>; the full digest is recorded in run.json.
STANDARD_SHA256_PREFIX = "6726825d"
ENV_VAR = "COLORBENCH_FID_WEIGHTS"
EXTRACTOR_NAME = "inception-v3-compat"
FEATURE_LAYER = "2048"
FEATURE_DIM = 2048
MIN_RELIABLE_N = 2048  # below this FID is biased upward and not comparable to published numbers (E3.2)

LABEL_STANDARD = "inception-v3-compat (torch-fidelity 2015-12-05 weights)"
LABEL_NON_STANDARD = "non-standard weights"
LABEL_UNAVAILABLE = "n/a"

NO_WEIGHTS_REASON = (
    f"no Inception weights: pass --fid-weights PATH or set {ENV_VAR}; the file is {WEIGHTS_FILENAME} "
    "from torch-fidelity's release"
)


class FidWeightsError(UsageError, RuntimeError):
    """Inception weights were asked for but cannot be used; the message names the file and what to do."""


class FidError(RuntimeError):
    """The Fréchet distance cannot be computed from the given features (too few, wrong shape, unstable)."""


@dataclass(frozen=True)
class FidWeights:
    """Where the Inception weights come from and whether they are the standard file.

    available: FID can be computed. standard: sha256 starts with 6726825d (torch-fidelity's release file).
    source: "argument" (--fid-weights), "env" (COLORBENCH_FID_WEIGHTS), "cache" (torch hub), or None.
    reason: why FID is unavailable (None when available).
    """

    available: bool
    path: Path | None = None
    sha256: str | None = None
    standard: bool = False
    source: str | None = None
    reason: str | None = None

    @property
    def label(self) -> str:
        """What a report prints next to FID values."""
        if not self.available:
            return LABEL_UNAVAILABLE
        return LABEL_STANDARD if self.standard else LABEL_NON_STANDARD

    def to_json(self) -> dict[str, Any]:
        """The run.json "fid" entry (keys read by protocols.base.ProtocolContext.fid)."""
        return {
            "available": self.available,
            "reason": self.reason,
            "weights_sha256": self.sha256,
            "standard": self.standard,
            "label": self.label,
            "source": self.source,
            "path": str(self.path) if self.path is not None else None,
        }


def default_cache_path() -> Path:
    """torch-fidelity's own download target: $TORCH_HOME/hub/checkpoints/<file> (torch.hub.get_dir())."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILENAME


def resolve_weights(path: str | os.PathLike[str] | None = None) -> FidWeights:
    """Find the FID Inception weights: `path` (--fid-weights) > $COLORBENCH_FID_WEIGHTS > torch hub cache.

    The sha256 is computed before anything is unpickled. An explicitly given file (argument or env) is used
    whatever its hash — a non-standard hash is labelled "non-standard weights" — because the user chose it.
    The cache file is used only with the standard hash: a wrong hash there means a corrupt or foreign file
    that nobody vouched for, so FID becomes unavailable with the reason. An explicit path that does not
    exist raises FidWeightsError (a typo must not silently turn FID into "n/a").
    """
    explicit: tuple[str, str] | None = None
    if path is not None and str(path) != "":
        explicit = (str(path), "argument")
    elif os.environ.get(ENV_VAR):
        explicit = (os.environ[ENV_VAR], "env")

    if explicit is not None:
        raw, source = explicit
        given = Path(raw).expanduser()
        what = f"--fid-weights {raw}" if source == "argument" else f"{ENV_VAR}={raw}"
        if not given.is_file():
            raise FidWeightsError(
                f"{what}: no such file. Give the path to {WEIGHTS_FILENAME} (torch-fidelity's release), "
                f"or drop the option to use {default_cache_path()}."
            )
        digest = file_sha256(given)
        standard = digest.startswith(STANDARD_SHA256_PREFIX)
        return FidWeights(available=True, path=given, sha256=digest, standard=standard, source=source)

    cached = default_cache_path()
    if not cached.is_file():
        return FidWeights(available=False, reason=f"{NO_WEIGHTS_REASON} (looked in {cached})")
    digest = file_sha256(cached)
    if not digest.startswith(STANDARD_SHA256_PREFIX):
        return FidWeights(
            available=False,
            path=cached,
            sha256=digest,
            source="cache",
            reason=(
                f"{cached} has sha256 {digest[:16]}…, not {STANDARD_SHA256_PREFIX}…: corrupt or not "
                "torch-fidelity's file, so it is not unpickled. Delete it and place the release file there, "
                "or pass it with --fid-weights if you trust it."
            ),
        )
    return FidWeights(available=True, path=cached, sha256=digest, standard=True, source="cache")


def _check_plain_state_dict(path: Path) -> None:
    """Refuse files that are more than a tensor state dict before torch-fidelity's full-pickle load sees them.

    torch-fidelity 0.4 calls torch.load(weights_only=False), which would run any code a pickle carries;
    loading with weights_only=True first rejects such files without executing them.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError… depending on the damage
        raise FidWeightsError(
            f"{path}: not a plain tensor state dict ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); "
            f"refusing to hand it to torch-fidelity's full-pickle loader. Use {WEIGHTS_FILENAME}."
        ) from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise FidWeightsError(
            f"{path}: expected a dict of tensors (an Inception state dict), got {type(state)}."
        )


class InceptionFeatures:
    """Pool3 (2048-d) features of torch-fidelity's `inception-v3-compat`, the only FID network here.

    Preprocessing is torch-fidelity's: uint8 → TF1-compatible bilinear resize to 299² → (x−128)/128.
    The network runs in float32: torch-fidelity maps internal dtype "float64" to float32 (0.4.0 quirk), so
    no dtype is requested. The device is set here, never by torch-fidelity (its `cuda=True` default).
    """

    def __init__(self, weights: FidWeights, device: str | torch.device = "cpu", batch_size: int = 16) -> None:
        if not weights.available or weights.path is None:
            raise FidWeightsError(weights.reason or NO_WEIGHTS_REASON)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        _check_plain_state_dict(weights.path)
        # Lazy: importing colorbench must not import torch_fidelity. Same module path in 0.3 and 0.4.
        import torch_fidelity
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        try:
            net = FeatureExtractorInceptionV3(
                EXTRACTOR_NAME, [FEATURE_LAYER], feature_extractor_weights_path=str(weights.path)
            )
        except RuntimeError as exc:  # strict load_state_dict: wrong keys or shapes
            raise FidWeightsError(
                f"{weights.path}: not an {EXTRACTOR_NAME} state dict ({str(exc).splitlines()[0][:200]}). "
                f"Use {WEIGHTS_FILENAME} from torch-fidelity's release."
            ) from exc
        self.weights = weights
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.net = net.to(self.device).eval()
        self.torch_fidelity_version = str(getattr(torch_fidelity, "__version__", "unknown"))

    def describe(self) -> dict[str, Any]:
        """Provenance for results.json: extractor, layer, backend version, weights identity."""
        return {
            "extractor": f"torch-fidelity {EXTRACTOR_NAME}",
            "layer": FEATURE_LAYER,
            "internal_dtype": "float32",
            "torch_fidelity": self.torch_fidelity_version,
            "weights": self.weights.to_json(),
        }

    def __call__(self, images_u8: torch.Tensor | np.ndarray) -> np.ndarray:
        """uint8 [B,3,H,W] (any H, W; resized internally) → features [B,2048] float64, in input order."""
        x = torch.as_tensor(images_u8)
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(
                f"InceptionFeatures expects uint8 [B,3,H,W] images (quantise once with metrics.to_uint8), "
                f"got {x.dtype} {tuple(x.shape)}"
            )
        chunks = []
        with torch.inference_mode():
            for start in range(0, x.shape[0], self.batch_size):
                # Exactly batch_size rows per call: features do not depend on how many images came in.
                feats = fixed_rows(lambda t: self.net(t)[0], self.batch_size,
                                   x[start : start + self.batch_size].to(self.device))
                chunks.append(feats.to("cpu", torch.float64).numpy())
        return np.concatenate(chunks) if chunks else np.zeros((0, FEATURE_DIM), dtype=np.float64)


def _checked(feats: np.ndarray, name: str) -> np.ndarray:
    """Features [N,D] as float64, with the reason spelled out when they cannot give a covariance."""
    x = np.asarray(feats, dtype=np.float64)
    if x.ndim != 2:
        raise FidError(f"{name} features must be [N,D], got shape {x.shape}")
    if x.shape[0] < 2:
        raise FidError(f"{name} features: need at least 2 images for a covariance, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise FidError(f"{name} features contain NaN/inf; the generated images or the extractor are broken")
    return x


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to features [N,D] and [M,D], by torch-fidelity's own code:
    `fid_features_to_statistics` (mean, unbiased covariance) and `fid_statistics_to_metric` (the trace of
    (ΣaΣb)^½ from the eigenvalues of ΣaΣb) — what torch_fidelity.calculate_metrics computes from features.

    Features are float64 first. With N + M + 1 < D both sets are first expressed in an orthonormal basis Q of
    the span of their centred rows and the mean difference: the covariances live in that span, so QᵀΣQ keeps
    every non-zero eigenvalue (traces and tr((ΣaΣb)^½) unchanged), and ‖Qᵀ(μa−μb)‖ = ‖μa−μb‖ — the same
    distance from an (N+M+1)² eigenproblem instead of a D² one (ms instead of ~8 s per FID at D = 2048).
    """
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    xa, xb = _checked(feats_a, "first"), _checked(feats_b, "second")
    if xa.shape[1] != xb.shape[1]:
        raise FidError(f"feature dimensions differ: {xa.shape[1]} vs {xb.shape[1]}")
    (n, d), m = xa.shape, xb.shape[0]
    if n + m + 1 < d:
        mu_a, mu_b = xa.mean(axis=0), xb.mean(axis=0)
        q, _ = np.linalg.qr(np.concatenate([xa - mu_a, xb - mu_b, (mu_a - mu_b)[None]]).T)
        xa, xb = xa @ q, xb @ q
    stats = [fid_features_to_statistics(torch.from_numpy(np.ascontiguousarray(x))) for x in (xa, xb)]
    value = float(fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID])
    if not np.isfinite(value):
        raise FidError(f"the Fréchet distance is not finite ({value}) although the features are")
    return value


def fid_from_features(fake: np.ndarray, real: np.ndarray) -> dict[str, Any]:
    """FID of generated vs real features ([N,2048] each) with the image counts every FID cell must show.

    Returns {"value": float, "n_fake": int, "n_real": int, "warning": str|None}; the warning is set when
    either set has fewer than 2048 images.
    """
    value = frechet_distance(fake, real)
    n_fake, n_real = int(np.shape(fake)[0]), int(np.shape(real)[0])
    warning = None
    if min(n_fake, n_real) < MIN_RELIABLE_N:
        warning = (
            f"FID from {n_fake} generated / {n_real} real images (< {MIN_RELIABLE_N}): biased upward and "
            "not comparable with published values; compare only runs with the same counts"
        )
    return {"value": value, "n_fake": n_fake, "n_real": n_real, "warning": warning}
