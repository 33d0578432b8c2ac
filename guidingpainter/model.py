"""GuidingPainter (paper §3): f (segmentation + ST-Gumbel), h (hints), g (colorization), D, four losses.

One G step (Adam over f and g together) then one D step per batch, as the official code; D is frozen
during the G step. Config keys switch each loss (Table 3 variants), the Fig. 4b control (`fixed_nh`) and
the supplement D.2 second phase (`stage="reorder"`).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from typing import Any

import torch

from colorbench.api import HintKind, Hints
from colorbench.checkpoints import CheckpointError
from colorbench.color.grayscale import GRAYSCALE, INPUT_MODES, hint_ab, luminance_input, recombine
from colorbench.color.lab import signed_to_lab
from colorbench.defaults import EVAL
from colorbench.guidingpainter.augment import augment_batch
from colorbench.guidingpainter.hint_generation import NH_PER, generate_hints, sample_activation
from colorbench.guidingpainter.losses import (
    SMOOTHNESS_KINDS,
    discriminator_loss,
    generator_adversarial_loss,
    nested_total_variance_loss,
    reconstruction_loss,
    smoothness_loss,
    total_variance_loss,
    usage_loss,
)
from colorbench.guidingpainter.segmentation import (
    MIN_TAU,
    SegmentationNet,
    gumbel_noise,
    one_hot_argmax,
    sort_by_area,
    st_gumbel,
    temperature,
)
from colorbench.hint_counts import BoundedGeometric
from colorbench.hints import lab_hints
from colorbench.model import ColorizerModel, TrainContext, end_iteration, optimizer_step
from colorbench.nn import NORMS, PatchGAN, UNet, init_weights, set_requires_grad

STAGES = ("joint", "reorder")
TV_FORMS = ("paper", "nested")
D_FAKES = ("reuse", "fresh")
REGION_ORDERS = ("learned", "area")
G_REGIONS = ("sample", "argmax")
LOSS_KEYS = ("lambda_rec", "lambda_adv", "lambda_tv", "lambda_smth")


class GuidingPainter(ColorizerModel):
    """The paper's model behind the colorbench interface.

    Inference: `propose_regions(X)` → S [B,Nc,H,W] one-hot in priority order; `colorize(X, hints)` →
    Ŷ = tanh(g([X, C, M, S])) [B,3,H,W] in [-1,1], with S = hints.regions when given.
    """

    name = "guidingpainter"
    display_name = "GuidingPainter (ours)"
    hint_kind = HintKind.REGION
    aliases = ("ours",)

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        return {
            "width": 0.25,  # paper: 1.0 (64 base channels)
            "f_norm": "batch",  # f's normalisation: batch (Table 5) | group (GroupNorm, a deviation)
            "g_norm": "batch",  # g's normalisation, the same choices
            "nc": EVAL.nc,  # maximum number of hints Nc (§3.3): the law G evaluation uses
            "p": EVAL.p,  # stop probability of G (Eq. 3); also the D.2 Bernoulli rate
            "lambda_rec": 30.0,  # Eq. (14) weights as the official code; 0 switches a loss off
            "lambda_adv": 0.2,
            "lambda_tv": 5.0,
            "lambda_smth": 1.0,
            "lambda_use": 0.0,  # channel-usage entropy (a deviation; paper: none)
            "smoothness": "eight_l1",  # eight_l1 | four_l1 | eight_l2
            "tv_form": "paper",  # paper (Eq. 11 over all Nc regions) | nested (expected over G of the hint prefix)
            "region_order": "learned",  # learned: f's channel order (paper) | area: largest region first
            "order_bias": 0.0,  # fixed prior −order_bias·i on f's channel i (paper: none)
            "logit_bound": 0.0,  # f's logits b·tanh(raw/b) when b > 0 (paper: unbounded)
            "gumbel_scale": 1.0,  # scale of the ST-Gumbel noise in training (paper: 1)
            "g_regions": "sample",  # what g and h see in training: the ST-Gumbel sample (paper) | f's argmax
            "f_from_g": True,  # f also learns from the losses on Ŷ (paper); False: from L_tv and L_smth only
            "d_fake": "reuse",  # D step on the G step's fake | "fresh": its own forward (new Nh, noise), official
            "fixed_nh": False,  # Fig. 4b control: train with Nh = Nc
            "nohint_p": 0.0,  # extra share of training samples given no hint (Nh = 0) on top of G (paper: 0)
            "nh_per": "sample",  # one Nh per sample (official code) | per mini-batch ("batch", paper §3.3)
            "stage": "joint",  # joint | reorder (supplement D.2: f frozen, m_i ~ Bernoulli(p))
            "gumbel_eval": False,  # evaluation regions with Gumbel noise (official test script) vs argmax
            "eval_seed": 0,  # seeds that noise, mixed with each sketch's content hash
            "augment": True,  # official colour jitter + random resized crop + flip
            "init_seed": 0,  # seeds the N(0, 0.02) initialisation (never the global RNG state)
            "input": "sketch",  # sketch | grayscale (supplement B: X = L, g predicts ab; colorbench.color.grayscale)
        }

    @classmethod
    def config_choices(cls) -> dict[str, tuple[str, ...]]:
        return {"smoothness": SMOOTHNESS_KINDS, "tv_form": TV_FORMS, "region_order": REGION_ORDERS,
                "d_fake": D_FAKES, "nh_per": NH_PER, "stage": STAGES, "f_norm": NORMS,
                "g_norm": NORMS, "g_regions": G_REGIONS}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        cfg = self.config
        self._validate(cfg)
        self.nc = int(cfg["nc"])
        width = float(cfg["width"])
        self.seg = SegmentationNet(self.nc, width, float(cfg["order_bias"]), float(cfg["logit_bound"]),
                                   str(cfg["f_norm"]))  # f
        norm = str(cfg["g_norm"])
        self.grayscale = cfg["input"] == GRAYSCALE
        # g on [X, C, M, S]; in grayscale mode (supplement B) C is the hints' ab and g predicts ab.
        self.gen = UNet(self.nc + 4, 2, width, norm) if self.grayscale else UNet(self.nc + 5, 3, width, norm)
        self.disc = PatchGAN(4, width)  # D on (X, Ŷ)
        self._pmf = torch.as_tensor(BoundedGeometric(self.nc, float(cfg["p"])).pmf(), dtype=torch.float32)
        # Supplement C: N(0, 0.02). Drawn from a forked, explicitly seeded RNG so that the weights depend
        # on init_seed only, not on whatever used the global generator before.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(cfg["init_seed"]))
            init_weights(self)

    @staticmethod
    def _validate(cfg: dict[str, Any]) -> None:
        if int(cfg["nc"]) < 1:
            raise ValueError(f"guidingpainter: nc must be >= 1, got {cfg['nc']}")
        if not 0.0 < float(cfg["p"]) <= 1.0:
            raise ValueError(f"guidingpainter: p must be in (0, 1], got {cfg['p']}")
        # Every string key with a fixed set of values (the same sets `train` offers as choices).
        for key, allowed in {**GuidingPainter.config_choices(), "input": INPUT_MODES}.items():
            if cfg[key] not in allowed:
                raise ValueError(f"guidingpainter: {key} must be one of {', '.join(allowed)}, got {cfg[key]!r}")
        if not 0.0 <= float(cfg["nohint_p"]) < 1.0:
            raise ValueError(f"guidingpainter: nohint_p must be in [0, 1), got {cfg['nohint_p']}")
        if float(cfg["gumbel_scale"]) < 0:
            raise ValueError(f"guidingpainter: gumbel_scale must be >= 0, got {cfg['gumbel_scale']}")
        weights = [float(cfg[k]) for k in LOSS_KEYS]
        if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
            raise ValueError(f"guidingpainter: loss weights {dict(zip(LOSS_KEYS, weights))} must be >= 0, one > 0")
        if cfg["stage"] == "reorder" and float(cfg["lambda_rec"]) == 0 and float(cfg["lambda_adv"]) == 0:
            raise ValueError("guidingpainter: stage 'reorder' trains g only; it needs lambda_rec or lambda_adv > 0")

    # -- the generator G = g ∘ h ∘ f ---------------------------------------------------------------
    def colorize_from(self, sketch: torch.Tensor, hints: Hints, regions: torch.Tensor) -> torch.Tensor:
        """Eq. (9): Ŷ = tanh(g([X, C, M, S])). regions [B,Nc,H,W]; returns [B,3,H,W] in [-1,1].

        Grayscale input (supplement B): X = L/50 − 1, C = the hints' ab/110 [B,2,H,W], g predicts ab/110 (tanh)
        and Ŷ is that ab recombined with the input L (colorbench.color.grayscale.recombine)."""
        if self.grayscale:
            x = torch.cat([sketch, hint_ab(hints, sketch), hints.mask, regions], dim=1).to(sketch.dtype)
            return recombine(sketch, torch.tanh(self.gen(x)))
        x = torch.cat([sketch, hints.color, hints.mask, regions], dim=1).to(sketch.dtype)
        return torch.tanh(self.gen(x))

    # -- inference ----------------------------------------------------------------------------------
    def propose_regions(self, sketch: torch.Tensor) -> torch.Tensor:
        """sketch [B,1,H,W] in [-1,1] → S [B,Nc,H,W] in {0,1}, one-hot over channels, priority order.

        Argmax of f's logits; with config gumbel_eval, argmax of logits + Gumbel noise (τ is irrelevant
        to a hard forward). The noise of each image is seeded from its sketch content and eval_seed, so
        it does not depend on the batch it arrives in. Channels no pixel chose stay all-zero.
        """
        return self._ordered(self._channel_regions(sketch))

    def _channel_regions(self, sketch: torch.Tensor) -> torch.Tensor:
        """f's evaluation regions [B,Nc,H,W] one-hot in f's channel order (before `_ordered`)."""
        self._check_sketch(sketch)
        logits = self.seg(sketch).float()
        lo, hi = torch.aminmax(logits.detach())  # NaN propagates into both
        if not (math.isfinite(lo) and math.isfinite(hi)):
            # argmax of NaN logits is one channel everywhere: a diverged f would run as a one-region model.
            raise CheckpointError("guidingpainter: f's region logits are NaN or infinite (a diverged checkpoint?): "
                                  "its regions cannot be used; retrain it or pass another --checkpoint")
        if self.config["gumbel_eval"]:
            noise = [
                gumbel_noise(logits.shape[1:], self._sketch_generator(sketch[i]), logits.device)
                for i in range(sketch.shape[0])
            ]
            logits = logits + torch.stack(noise)
        return one_hot_argmax(logits)

    def learned_order(self, sketch: torch.Tensor) -> torch.Tensor | None:
        """With region_order "area": f's channel order as indices [B,Nc] int64 into `propose_regions`' output
        (entry c = where channel c of f went when sorting by area); None with "learned", whose priority is
        that order already."""
        if self.config["region_order"] != "area":
            return None
        area = self._channel_regions(sketch).sum(dim=(2, 3))
        # sort_by_area's permutation inverted: entry c is where f's channel c sits in propose_regions' output.
        return torch.argsort(torch.sort(area, dim=1, descending=True, stable=True).indices, dim=1)

    def _ordered(self, regions: torch.Tensor) -> torch.Tensor:
        """The priority order of S: f's channel order (paper), or with region_order "area" (a deviation,
        docs/recipes.md) each image's regions by area, largest first: the same rule in training and use."""
        return sort_by_area(regions) if self.config["region_order"] == "area" else regions

    def _sketch_generator(self, sketch: torch.Tensor) -> torch.Generator:
        # The sketch quantised by truncation, as when this seed was introduced: metrics.to_uint8 now rounds,
        # and the digest must not move (it would move every --gumbel-noise record).
        quantised = ((sketch.expand(3, -1, -1).float() + 1.0) / 2.0).clamp(0.0, 1.0).mul(255.0).to(torch.uint8)
        digest = hashlib.sha256(quantised.cpu().numpy().tobytes())
        digest.update(f"|gumbel_eval|{self.config['eval_seed']}".encode())
        return torch.Generator().manual_seed(int(digest.hexdigest()[:15], 16))

    def colorize(self, sketch: torch.Tensor, hints: Hints) -> torch.Tensor:
        """sketch [B,1,H,W] in [-1,1] + hints (C, M and optionally the regions S g should see)
        → Ŷ [B,3,H,W] in [-1,1]. Without hints.regions, S = propose_regions(sketch)."""
        self._check_sketch(sketch)
        regions = hints.regions if hints.regions is not None else self.propose_regions(sketch)
        b, _, h, w = sketch.shape
        if tuple(regions.shape) != (b, self.nc, h, w):
            raise ValueError(
                f"guidingpainter: hints.regions has shape {tuple(regions.shape)}, expected {(b, self.nc, h, w)} "
                f"(this model was built with nc={self.nc}); pass the model's own propose_regions output"
            )
        return self.colorize_from(sketch, hints, regions.to(sketch.dtype))

    @staticmethod
    def _check_sketch(sketch: torch.Tensor) -> None:
        if sketch.dim() != 4 or sketch.shape[1] != 1:
            raise ValueError(f"guidingpainter: sketch must be [B,1,H,W], got {tuple(sketch.shape)}")
        if sketch.shape[-1] % 16 or sketch.shape[-2] % 16:
            raise ValueError(f"guidingpainter: H and W must be multiples of 16 (U-Net), got {tuple(sketch.shape[-2:])}")

    # -- training -----------------------------------------------------------------------------------
    def configure_optimizers(self, lr: float, betas: tuple[float, float]) -> dict[str, torch.optim.Optimizer]:
        """{"g": Adam over f and g, "d": Adam over D}. The reorder stage keeps f in "g" (it just gets
        no gradients) so optimizer state stays loadable across stages."""
        gen_params = list(self.seg.parameters()) + list(self.gen.parameters())
        return {
            "g": torch.optim.Adam(gen_params, lr=lr, betas=tuple(betas)),
            "d": torch.optim.Adam(self.disc.parameters(), lr=lr, betas=tuple(betas)),
        }

    def _activation_mode(self) -> str:
        if self.config["stage"] == "reorder":
            return "bernoulli"
        return "fixed" if self.config["fixed_nh"] else "geometric"

    def _generate(self, sketch: torch.Tensor, color: torch.Tensor, tau: float, ctx: TrainContext
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """G = g ∘ h ∘ f in training → (S_logit, S, m [B,Nc], Ŷ [B,3,H,W] in [-1,1]); draws Nh and noise."""
        cfg = self.config
        if cfg["stage"] == "reorder":
            # D.2: f is frozen (weights and BN statistics); g learns from f's inference regions.
            was_training = self.seg.training
            self.seg.eval()
            with torch.no_grad():
                logits = self.seg(sketch).float()
                regions = self._ordered(one_hot_argmax(logits))
            self.seg.train(was_training)
            shown = regions
        else:
            logits = self.seg(sketch).float()
            sample = st_gumbel(logits, tau, ctx.generator, float(cfg["gumbel_scale"]))  # Eq. (1)
            regions = self._ordered(sample)
            # g_regions "argmax" (a deviation, docs/recipes.md): the ST-Gumbel forward keeps its noise at every τ, so
            # g would learn on noised regions and be used on f's argmax; g and h get the argmax (the regions of
            # inference) carrying the sample's soft gradient, while L_tv still scores the noised sample f explores with.
            shown = (regions if cfg["g_regions"] == "sample"
                     else self._ordered(one_hot_argmax(logits) + (sample - sample.detach())))
        active = sample_activation(self._activation_mode(), sketch.shape[0], self.nc, float(cfg["p"]), ctx.generator,
                                   sketch.device, nh_per=cfg["nh_per"])
        if float(cfg["nohint_p"]) > 0:  # drawn only then: with 0 the random stream is the paper's
            # A deviation (docs/line-art.md): under G only 1 sample in 8 has Nh = 0, and with region_order "area"
            # every other one has its largest region (the background) hinted, so g learns to paint the
            # unhinted background from those few samples alone.
            keep = torch.rand(sketch.shape[0], generator=ctx.generator, device=ctx.generator.device) >= float(cfg["nohint_p"])
            active = active * keep.to(active.device, active.dtype)[:, None]
        # f_from_g False (a deviation, docs/recipes.md): g sees the regions without their ST gradient, so the
        # losses on Ŷ cannot teach f to hide pixels in rarely hinted channels while g still ignores hints.
        if not cfg["f_from_g"]:
            shown = shown.detach()
        with torch.autocast(device_type=sketch.device.type, enabled=False):
            if self.grayscale:  # region means of Lab, as the test-time hints (simulate(space="lab"))
                hints = lab_hints(generate_hints(signed_to_lab(color), shown, active))
            else:
                hints = generate_hints(color, shown, active)  # Eq. (2)-(8)
        return logits, regions, active, self.colorize_from(sketch, hints, shown)

    def train_step(
        self, batch: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer], ctx: TrainContext
    ) -> dict[str, float]:
        """One G step then one D step on {"sketch" [B,1,H,W], "color" [B,3,H,W]} in [-1,1].

        Returns the unweighted loss terms (loss_rec, loss_adv, loss_tv, loss_smth, loss_d), nh_mean (mean
        number of hinted regions), nohint_share (share of the batch with Nh = 0) and loss_rec_nohint_part (their
        per-sample L1 summed over the batch size: loss_rec's no-hint part), regions_per_image (f's non-empty regions per image) and tau. Terms whose weight
        is 0 are not optimised; loss_adv and loss_d
        are reported as 0.0 when lambda_adv = 0 because D is then not run at all.
        """
        cfg = self.config
        dev = ctx.device
        sketch = batch["sketch"].to(dev, torch.float32)
        color = batch["color"].to(dev, torch.float32)
        if cfg["augment"]:
            sketch, color = augment_batch(sketch, color, ctx.generator)
            if self.grayscale:  # the colour jitter changed the target's lightness: X is the L of what is learned
                sketch = luminance_input(color)
        tau = temperature(ctx.progress, MIN_TAU)
        lam = {k: float(cfg[k]) for k in LOSS_KEYS}
        reorder = cfg["stage"] == "reorder"
        autocast = torch.autocast(device_type=dev.type, enabled=bool(ctx.amp))

        # ---- G step: f and g together; D frozen so it collects no generator gradients.
        set_requires_grad(self.disc, False)
        with autocast:
            logits, regions, active, pred = self._generate(sketch, color, tau, ctx)
            loss_rec = reconstruction_loss(pred, color)  # Eq. (12)
            # Its no-hint share: the samples whose Nh = 0 (m all zero), the case a user sees first.
            with torch.no_grad():
                nohint = active.sum(dim=1) == 0  # [B]
                per_sample = (pred.detach().float() - color.float()).abs().mean(dim=(1, 2, 3))
                loss_rec_nohint_part = (per_sample * nohint).sum() / sketch.shape[0]
            with contextlib.nullcontext() if lam["lambda_tv"] > 0 and not reorder else torch.no_grad():
                if cfg["tv_form"] == "nested":
                    loss_tv = nested_total_variance_loss(color, regions, self._pmf)
                else:
                    loss_tv = total_variance_loss(color, regions)  # Eq. (11)
            with contextlib.nullcontext() if lam["lambda_smth"] > 0 and not reorder else torch.no_grad():
                loss_smth = smoothness_loss(logits, cfg["smoothness"])  # Eq. (10)
            total = lam["lambda_rec"] * loss_rec
            if not reorder:
                total = total + lam["lambda_tv"] * loss_tv + lam["lambda_smth"] * loss_smth
                if float(cfg["lambda_use"]) > 0:
                    total = total + float(cfg["lambda_use"]) * usage_loss(logits, tau)
            use_adv = lam["lambda_adv"] > 0
            loss_adv = torch.zeros((), device=dev)
            if use_adv:
                loss_adv = generator_adversarial_loss(self.disc(sketch, pred))  # Eq. (13), LSGAN
                total = total + lam["lambda_adv"] * loss_adv
        optimizer_step(total, optimizers["g"], ctx)

        # ---- D step. "reuse" (default, a deviation): the G step's fake, detached, which saves a generator
        # forward; "fresh": the official code's own forward with a new Nh and new noise.
        loss_d = torch.zeros((), device=dev)
        set_requires_grad(self.disc, True)
        if use_adv:
            with autocast:
                if cfg["d_fake"] == "fresh":
                    with torch.no_grad():
                        fake = self._generate(sketch, color, tau, ctx)[-1]
                else:
                    fake = pred.detach()
                loss_d = discriminator_loss(self.disc(sketch, color), self.disc(sketch, fake))
            optimizer_step(lam["lambda_adv"] * loss_d, optimizers["d"], ctx)
        end_iteration(ctx)
        return {
            "loss_rec": float(loss_rec.detach()),
            "loss_adv": float(loss_adv.detach()),
            "loss_tv": float(loss_tv.detach()),
            "loss_smth": float(loss_smth.detach()),
            "loss_d": float(loss_d.detach()),
            "nh_mean": float(active.sum(dim=1).mean()),
            # loss_rec = loss_rec_nohint_part + (the hinted samples' part); an epoch's L1 at Nh = 0 is the mean
            # of the part over the mean of nohint_share (benchmarks/nohint_loss.py reads training.csv so).
            "nohint_share": float(nohint.float().mean()),
            "loss_rec_nohint_part": float(loss_rec_nohint_part),
            # f's non-empty regions per image in the sample g saw (how many of its Nc channels f really uses)
            "regions_per_image": float((regions.detach().flatten(2).amax(2) > 0).sum(1).float().mean()),
            "tau": tau,
        }
