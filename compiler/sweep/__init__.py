"""Sweeps: many compiles (models x targets x variants) on one executor, summarised together."""
