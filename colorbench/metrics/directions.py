"""Which way is better, for every number colorbench reports (torchmetrics' `higher_is_better`): the one table
results.json, the comparisons, the tables and `colorbench check` read.

A registered per-image metric's columns carry their own direction (`register_metric(..., higher_is_better=…)`),
which its `COLUMN_auto` / `COLUMN_expected` numbers take. Torch-free and import-free: reports and the gate
read it cheaply.
"""

from __future__ import annotations

# True: higher is better; False: lower is better.
HIGHER_IS_BETTER: dict[str, bool] = {
    "psnr": True,  # dB; Table 1/3 cells (✗ rows: n = 0, ✓ rows: E_G[PSNR]), sweep, segment ablation
    "psnr_auto": True,  # PSNR at n = 0 (E7.1)
    "psnr_expected": True,  # exact E_G[PSNR] = Σ_n G(n)·PSNR̄(n) (E7.2)
    "mc_check": True,  # Monte-Carlo estimate of E_G[PSNR]
    "fid": False,  # FID of a fixed-n set or of the stratified mixture (E7.3)
    "fid_auto": False,  # FID at n = 0
    "fid_expected": False,  # FID of the stratified mixture set under G (E7.3)
    "eg_fid": False,  # Σ G(n)·FID(n), reported under its own name
    "nri": False,  # number of required interactions (E7.4)
    "hint_err": False,  # mean |Ŷ − C| in the hint mask, 8-bit units (E.2)
    "hint_err_ratio": False,  # perturbed / natural hint error
    "hint_de": False,  # mean CIEDE2000 ΔE between hint colour and output in the hint mask (E.2)
    "gain": True,  # hint_policy: NRI(baseline) − NRI(guided policy), interactions saved
    "efficiency": True,  # hint_policy: guidance gain / oracle gain
}

# The two kinds of a per-image quantity: its mean at n = 0 (✗ Cond.) and its exact E_G (✓ Cond.), named
# `<column>_auto` / `<column>_expected` in the gate, the comparisons and results.json.
KINDS = ("auto", "expected")
