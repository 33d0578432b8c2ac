"""colorbench: a benchmark and evaluation toolkit for interactive sketch colorization."""

__all__ = ["__version__"]
__version__ = "0.1.0"
