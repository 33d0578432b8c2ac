"""`python -m colorbench` (and `torchrun -m colorbench`) runs the CLI."""

from colorbench.cli import main

main()
