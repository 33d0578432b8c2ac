"""The training stage: the one loop every model uses (`loop`; its run `config`, the `machine`, the resume `state`,
`validation` PSNR), torchrun/DistributedDataParallel (`ddp`), what training refuses (`checks`) and logs (`log`),
and the zoo build (`zoo_build`)."""
