"""Sweeps: compose configs with Hydra, expand grids, plan which runs to do, launch them."""
