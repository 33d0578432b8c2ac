"""Image metrics: PSNR as the paper computes it (`psnr`), the registry (`registry`), the built-in metrics
(`builtin`: PSNR, FID, SSIM, ΔE, colourfulness), FID via torch-fidelity (`fid`), LPIPS, and the per-row
numbers the engine records for every output (`levels`)."""
