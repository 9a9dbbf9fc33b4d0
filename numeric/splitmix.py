"""SplitMix64, the counter-based random stream of stochastic rounding (one definition for every kernel).

SplitMix64 (Steele, Lea & Flood 2014) started at a 64-bit ``key`` yields, for i = 1, 2, ...::

    z_i = key + i * GAMMA  (mod 2^64),       GAMMA = 0x9E3779B97F4A7C15
    R_i = mix(z_i),  mix(z) = z3 with  z1 = (z ^ (z >> 30)) * M1,  z2 = (z1 ^ (z1 >> 27)) * M2,
                                        z3 = z2 ^ (z2 >> 31)      (products mod 2^64)

and stochastic rounding with k random bits uses ``R_i >> (64 - k)`` for the i-th value (C order,
i = 1..n). Because R_i depends only on (key, i), any split of the array into chunks, threads or
kernels gives the same numbers.

:func:`mix` is written once, with numpy operators only: numpy evaluates it on uint64 arrays (the
reference path, :func:`sr_random_stream`), and numeric._kernel_numba compiles the *same function*
with numba for scalars inside the rounding and fused optimizer kernels.

>>> hex(int(sr_random_stream(0, 1)[0]))       # the published first output for seed 0
'0xe220a8397b1dcdaf'
>>> sr_random_stream(0, 3, k=4).tolist()        # top 4 bits of the first three outputs
[14, 6, 0]
"""
from __future__ import annotations

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)
S30 = np.uint64(30)
S27 = np.uint64(27)
S31 = np.uint64(31)


def mix(z):
    """The SplitMix64 output function on uint64 (scalar or array; products wrap mod 2^64)."""
    z = (z ^ (z >> S30)) * M1
    z = (z ^ (z >> S27)) * M2
    return z ^ (z >> S31)


def sr_random_stream(key: int, n: int, k: int = 64) -> np.ndarray:
    """R_i = mix(key + i * GAMMA) >> (64 - k) for i = 1..n, as a uint64 array (numpy)."""
    i = np.arange(1, n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = mix(np.uint64(key) + i * GAMMA)
    if k < 64:
        z >>= np.uint64(64 - k)
    return z
