"""CIC (Zhang et al. 2016, Colorful Image Colorization) adapted to sketches: "CIC-sketch".

Kept: per-pixel classification over quantised ab bins of CIE Lab (grid step 10, in-gamut cells only),
soft-encoded targets (k = 5 nearest bins, Gaussian σ = 5), class rebalancing w ∝ ((1−λ)p̃ + λ/Q)⁻¹ with
λ = 0.5 and E_p̃[w] = 1 from the σ-smoothed empirical bin prior, images without chroma (|ab| ≤ 5
everywhere) masked out of the colour loss, annealed-mean decoding at T = 0.38, Adam(β = (0.9, 0.99),
weight decay 1e-3) at lr 3e-5.
Changed, and why: a sketch carries no luminance, so besides the ab distribution the network regresses
L (a 1-channel tanh head, L1 ×10 in RTUG's normalised units); ab bins rather than joint RGB bins keep
CIC's method and its class count (RGB bins at step 10 per axis would need ~17k classes). The bins are
the 262 grid cells that touch the sRGB gamut (CIC's 313 come from an ImageNet hull); the prior is
recomputed on the benchmark's training set (`prepare_training`) and stored in the checkpoint. The
network is the benchmark's one U-Net (Table 5) predicting at full resolution, instead of the VGG trunk
predicting at ¼ resolution.
Grayscale input (config input="grayscale", paper supplement B): CIC as published — the input is L_norm, there is
no L head, and the decoded ab is recombined with the input L (colorbench.color.grayscale).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F

from colorbench.api import HintKind, Hints
from colorbench.baselines._shared import autocast
from colorbench.color.grayscale import GRAYSCALE, INPUT_MODES, input_lightness, recombine
from colorbench.color.lab import AB_NORM, L_CENT, L_NORM, lab_to_rgb_unclipped, lab_to_signed, signed_to_lab
from colorbench.model import ColorizerModel, TrainContext, end_iteration, optimizer_step
from colorbench.nn import UNet, init_weights

AB_STEP = 10.0
AB_MAX = 110.0


@lru_cache(maxsize=1)
def _gamut_bins() -> tuple[tuple[float, float], ...]:
    """Centres of the step-10 ab grid cells that contain an sRGB colour at some L (sampled 5×5 per cell)."""
    grid = torch.arange(-AB_MAX, AB_MAX + 1, AB_STEP, dtype=torch.float64)
    ca, cb = torch.meshgrid(grid, grid, indexing="ij")
    off = torch.linspace(-AB_STEP / 2, AB_STEP / 2, 5, dtype=torch.float64)
    oa, ob = torch.meshgrid(off, off, indexing="ij")
    pa = (ca.reshape(-1, 1) + oa.reshape(1, -1)).reshape(-1)
    pb = (cb.reshape(-1, 1) + ob.reshape(1, -1)).reshape(-1)
    lum = torch.linspace(0.0, 100.0, 101, dtype=torch.float64)
    n_l, n_p = lum.numel(), pa.numel()
    lab = torch.stack([lum[:, None].expand(n_l, n_p), pa[None].expand(n_l, n_p), pb[None].expand(n_l, n_p)])
    rgb = lab_to_rgb_unclipped(lab[None])[0]  # [3, L, points]
    inside = ((rgb >= -1e-6) & (rgb <= 1 + 1e-6)).all(dim=0).any(dim=0)  # [points]
    keep = inside.view(ca.numel(), -1).any(dim=1)
    return tuple((float(a), float(b)) for a, b in zip(ca.reshape(-1)[keep], cb.reshape(-1)[keep]))


def ab_bins() -> torch.Tensor:
    """[Q,2] float32 ab centres of the in-gamut bins (Q = 262), row-major over (a, b)."""
    return torch.tensor(_gamut_bins(), dtype=torch.float32)


def rebalance_weights(hist: torch.Tensor, lam: float = 0.5) -> torch.Tensor:
    """CIC's class-rebalancing weights (its Eq. 4) from a bin histogram.

    hist [Q] ≥ 0 (counts or probabilities). p̃ = hist/Σhist; Q' = number of bins with p̃ > 0 (the bins
    the uniform component spreads over); w = ((1−λ)p̃ + λ/Q')⁻¹, scaled so that Σ p̃·w = 1. → [Q] float64.
    """
    h = torch.as_tensor(hist, dtype=torch.float64)
    if h.dim() != 1 or (h < 0).any() or h.sum() <= 0:
        raise ValueError("rebalance_weights needs a 1-D histogram of non-negative counts with a positive total")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"rebalance_weights: lam must be in [0,1], got {lam}")
    p = h / h.sum()
    q = int((p > 0).sum())
    w = 1.0 / ((1.0 - lam) * p + lam / q)
    return w / (p * w).sum()


def annealed_mean(logits: torch.Tensor, centers: torch.Tensor, T: float = 0.38) -> torch.Tensor:
    """CIC's annealed-mean decoding: E[ab] under softmax(logits / T).

    logits [B,Q,H,W], centers [Q,2] ab → ab [B,2,H,W]. T = 1 is the mean, T → 0 the mode, T = 0.38 CIC's.
    """
    if T <= 0:
        raise ValueError(f"annealed_mean: temperature must be > 0, got {T}")
    probs = torch.softmax(logits.float() / T, dim=1)
    return torch.einsum("bqhw,qc->bchw", probs, centers.to(probs))


def soft_encode(ab: torch.Tensor, centers: torch.Tensor, k: int = 5, sigma: float = 5.0) -> torch.Tensor:
    """CIC's soft target: the k nearest bins of each pixel's ab, Gaussian-weighted (σ), summing to 1.

    ab [B,2,H,W], centers [Q,2] → [B,Q,H,W].
    """
    b, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d2 = torch.cdist(flat, centers.to(flat)) ** 2  # [N,Q]
    near_d2, near_idx = d2.topk(k, dim=1, largest=False)
    weight = torch.softmax(-near_d2 / (2.0 * sigma**2), dim=1)  # normalised Gaussian weights
    out = torch.zeros_like(d2).scatter_(1, near_idx, weight)
    return out.view(b, h, w, -1).permute(0, 3, 1, 2)


def nearest_bin(ab: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Index of the nearest bin (q* = argmax of the soft target). ab [B,2,H,W] → [B,H,W] int64."""
    b, _, h, w = ab.shape
    flat = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    return torch.cdist(flat, centers.to(flat)).argmin(dim=1).view(b, h, w)


def smooth_prior(hist: torch.Tensor, centers: torch.Tensor, sigma: float = 5.0) -> torch.Tensor:
    """Empirical bin distribution smoothed in ab space with a Gaussian of σ (mass-preserving). → [Q]."""
    k = torch.exp(-torch.cdist(centers.double(), centers.double()) ** 2 / (2.0 * sigma**2))
    k = k / k.sum(dim=0, keepdim=True)  # column j spreads bin j's mass over its neighbours
    p = hist.double() / hist.double().sum()
    out = k @ p
    return out / out.sum()


class CIC(ColorizerModel):
    """U-Net(sketch 1 ch → Q ab logits + 1 L channel); decode L by tanh, ab by annealed mean."""

    name = "cic"
    display_name = "CIC"
    hint_kind = HintKind.NONE
    labels = ("CIC-sketch",)

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "width": 0.25,
            "temperature": 0.38,
            "soft_k": 5,
            "soft_sigma": 5.0,
            "rebalance_lambda": 0.5,
            "prior_sigma": 5.0,
            "prior_images": 512,  # train images (evenly spaced) the prior is estimated from
            "lambda_l": 10.0,
            "weight_decay": 1e-3,
            "chroma_min": 5.0,  # images whose |ab| never exceeds this are left out of the ab loss
            "input": "sketch",  # sketch | grayscale (L → ab, no L head)
        }

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        centers = ab_bins()
        q = centers.shape[0]
        if self.config["input"] not in INPUT_MODES:
            raise ValueError(f"cic: input must be one of {', '.join(INPUT_MODES)}, got {self.config['input']!r}")
        self.grayscale = self.config["input"] == GRAYSCALE
        self.net = UNet(1, q if self.grayscale else q + 1, float(self.config["width"]))
        init_weights(self)
        self.register_buffer("centers", centers, persistent=False)  # derived from constants, not data
        # Filled by prepare_training and saved in checkpoints (the prior is part of the trained model).
        self.register_buffer("prior", torch.full((q,), 1.0 / q))
        self.register_buffer("class_weights", torch.ones(q))
        self.register_buffer("prior_images_used", torch.zeros((), dtype=torch.int64))

    @property
    def num_bins(self) -> int:
        return int(self.centers.shape[0])

    # -- inference -----------------------------------------------------------------------------
    def heads(self, sketch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sketch [B,1,H,W] in [-1,1] → (ab logits [B,Q,H,W], L_norm [B,1,H,W] in (-1,1)); grayscale: the L_norm
        returned is the input's, X/2 = (L−50)/100."""
        out = self.net(sketch / 2.0)  # sketch as L_norm ∈ [-0.5,0.5], like CIC's centred L input
        if self.grayscale:
            return out, (input_lightness(sketch) - L_CENT) / L_NORM
        return out[:, : self.num_bins], torch.tanh(out[:, self.num_bins :])

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """Automatic: hints ignored. → RGB [B,3,H,W] in [-1,1] (annealed-mean ab, regressed L)."""
        logits, l_norm = self.heads(sketch)
        ab = annealed_mean(logits, self.centers, float(self.config["temperature"]))
        if self.grayscale:
            return recombine(sketch, ab / AB_NORM)
        lum = (l_norm.float() * L_NORM + L_CENT).clamp(0.0, 100.0)
        return lab_to_signed(torch.cat([lum, ab], dim=1))

    # -- training ------------------------------------------------------------------------------
    def prepare_training(self, dataset: Sequence[dict[str, Any]]) -> None:
        """Estimate the bin prior p̃ and rebalancing weights from (an evenly spaced sample of) the
        training set; stores them as buffers. dataset items: {"color": [3,H,W] in [-1,1], ...}."""
        n = len(dataset)
        if n == 0:
            raise ValueError("cic: prepare_training got an empty training set; check the dataset split/--limit")
        take = min(n, int(self.config["prior_images"]))
        index = sorted({round(i * (n - 1) / max(1, take - 1)) for i in range(take)})
        centers = self.centers.cpu()
        hist = torch.zeros(self.num_bins, dtype=torch.float64)
        for start in range(0, len(index), 32):
            colors = torch.stack([torch.as_tensor(dataset[i]["color"]).float() for i in index[start : start + 32]])
            ab = signed_to_lab(colors)[:, 1:]
            hist += torch.bincount(nearest_bin(ab, centers).reshape(-1), minlength=self.num_bins).double()
        prior = smooth_prior(hist, centers, float(self.config["prior_sigma"]))
        weights = rebalance_weights(prior, float(self.config["rebalance_lambda"]))
        self.prior.copy_(prior.float())
        self.class_weights.copy_(weights.float())
        self.prior_images_used.fill_(len(index))

    def configure_optimizers(self, lr: float, betas: tuple[float, float]) -> dict[str, torch.optim.Optimizer]:
        wd = float(self.config["weight_decay"])
        return {"G": torch.optim.Adam(self.net.parameters(), lr=lr, betas=betas, weight_decay=wd)}

    def training_defaults(self) -> dict[str, Any]:
        return {"lr": 3e-5, "betas": (0.9, 0.99)}

    def losses(self, sketch: torch.Tensor, color: torch.Tensor) -> dict[str, torch.Tensor]:
        """Rebalanced soft cross-entropy on ab bins + λ_L·L1 on L_norm. sketch, color in [-1,1]."""
        with torch.no_grad():
            lab = signed_to_lab(color.float())
            ab = lab[:, 1:]
            target = soft_encode(ab, self.centers, int(self.config["soft_k"]), float(self.config["soft_sigma"]))
            # CIC Eq. (3)-(4): each pixel is weighted by w(q*), q* = argmax of its soft target.
            pixel_w = self.class_weights[target.argmax(dim=1)]  # [B,H,W]
            chroma = ab.pow(2).sum(dim=1).sqrt().flatten(1).amax(dim=1)
            keep = (chroma > float(self.config["chroma_min"])).to(pixel_w)  # CIC's non-grey mask
        logits, l_norm = self.heads(sketch)
        ce = -(target * F.log_softmax(logits.float(), dim=1)).sum(dim=1)  # [B,H,W]
        ce = (ce * pixel_w * keep.view(-1, 1, 1)).mean()
        if self.grayscale:  # L is the input: no L head, no L loss
            return {"ce": ce, "l1_L": torch.zeros_like(ce), "loss": ce}
        l1 = (l_norm.float() - (lab[:, :1] - L_CENT) / L_NORM).abs().mean()
        return {"ce": ce, "l1_L": l1, "loss": ce + float(self.config["lambda_l"]) * l1}

    def train_step(
        self, batch: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer], ctx: TrainContext
    ) -> dict[str, float]:
        """One step of rebalanced classification + L regression. Needs `prepare_training` first."""
        if int(self.prior_images_used) == 0:
            raise RuntimeError(
                "cic: the class-rebalancing prior is not computed; call model.prepare_training(train_dataset) "
                "before training (colorbench train does this)"
            )
        sketch = batch["sketch"].to(ctx.device)
        color = batch["color"].to(ctx.device)
        with autocast(ctx):
            parts = self.losses(sketch, color)
        optimizer_step(parts["loss"], optimizers["G"], ctx)
        end_iteration(ctx)
        return {k: float(v.detach()) for k, v in parts.items()}
