"""Experiment drivers: application-layer scripts that train models and run protocols and reports on them."""
