"""The training stage: the one loop every model uses (`loop`), torchrun/DistributedDataParallel (`ddp`),
what training refuses (`checks`) and logs (`log`), and the zoo build (`zoo_build`)."""
