"""Bit-exact golden models (numba), one module per block."""
