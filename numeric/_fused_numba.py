"""Fused quantized optimizer steps: one compiled pass per optimizer over x, g, m, v.

The multi-pass implementation in :mod:`qbound.numeric.optimizers` (``step_reference``) evaluates an
update rule as a sequence of numpy array operations, each followed by a rounding (Q_M, Q_V, or the
update arithmetic's U), every one a full pass over memory. The kernels here evaluate the *same
expression tree* element by element: every float64 operation in the same order (IEEE-754 double
arithmetic is deterministic; no fast-math, no FMA contraction), every rounding by the scalar
rounding :func:`qbound.numeric._kernel_numba._one` of the compiled kernel, with the same random
stream for stochastic rounding (element j of a call keyed by ``key`` uses SplitMix64(key + (j + 1)
GAMMA)), so the results are bit-identical to the reference, which the tests check for every format
family and mode.

A rounding site c (M = 0, V = 1, U = 2) is described by a row of ``qi`` (int64: active, m, emin,
subnormals, mode code, k random bits), of ``qf`` (float64: huge, over_pos, over_neg, inf_val) and a
64-bit ``keys[c]``. Each site counts what :class:`qbound.numeric.quantplan.Quantizers` counts, per
element: ``overflow`` (finite |x| > huge), ``nan`` (NaN result), ``underflow`` (x != 0 rounded to
0), into ``cnt[c]``; the chunks' counts are summed.

The per-call scalars (e.g. U(alpha) for Adam) are rounded once in Python by the caller, as the
reference does, so their counts are the reference's too.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from qbound.numeric._kernel_numba import _GAMMA, _f2u, _mix, _one, _u2f, run_chunked

C_M, C_V, C_U = 0, 1, 2
_INF = np.inf


@njit(cache=True, nogil=True)
def _rq(x, c, qi, qf, keys, idx, cnt):
    """Round the float64 ``x`` at site ``c`` (identity when the site is inactive) and count."""
    if qi[c, 0] == 0:
        return x
    mode = qi[c, 4]
    k = qi[c, 5]
    r = np.uint64(0)
    if mode == 5:
        r = _mix(keys[c] + np.uint64(idx + 1) * _GAMMA) >> np.uint64(64 - k)
    y = _u2f(_one(_f2u(x), np.uint64(52), np.int64(1023), np.int64(2047), np.uint64(63),
                  qi[c, 1], qi[c, 2], qi[c, 3] != 0, mode, r, k, qf[c, 0], qf[c, 1], qf[c, 2], qf[c, 3]))
    ax = abs(x)
    if ax > qf[c, 0] and ax != _INF:
        cnt[c, 0] += 1
    if y != y:
        cnt[c, 1] += 1
    if y == 0.0 and x != 0.0:
        cnt[c, 2] += 1
    return y


@njit(cache=True, nogil=True, error_model="numpy")
def adam_paper_kernel(g, m, v, d, a, b, b1, b2, eps, ualpha, qi, qf, keys, cnt):
    """m = Q_M(U(U(b1 m) + g)); v = Q_V(U(U(b2 v) + U(g g))); d = U(U(U(alpha) m) / U(sqrt(U(eps + v))))."""
    for j in range(a, b):
        gj = g[j]
        mj = _rq(_rq(_rq(b1 * m[j], C_U, qi, qf, keys, j, cnt) + gj, C_U, qi, qf, keys, j, cnt),
                 C_M, qi, qf, keys, j, cnt)
        gg = _rq(gj * gj, C_U, qi, qf, keys, j, cnt)
        vj = _rq(_rq(_rq(b2 * v[j], C_U, qi, qf, keys, j, cnt) + gg, C_U, qi, qf, keys, j, cnt),
                 C_V, qi, qf, keys, j, cnt)
        num = _rq(ualpha * mj, C_U, qi, qf, keys, j, cnt)
        den = _rq(np.sqrt(_rq(eps + vj, C_U, qi, qf, keys, j, cnt)), C_U, qi, qf, keys, j, cnt)
        d[j] = _rq(num / den, C_U, qi, qf, keys, j, cnt)
        m[j] = mj
        v[j] = vj


@njit(cache=True, nogil=True, error_model="numpy")
def adam_torch_kernel(g, w, m, v, d, a, b, b2, eps, wd, decoupled, lrwd_u, uc1, uc2, ustep, bc2_sqrt,
                      qi, qf, keys, cnt):
    """torch.optim.Adam's arithmetic (L2 decay ``wd`` into g when wd != 0), and with ``decoupled``
    AdamW's d = U(U(lrwd_u w) + d), lrwd_u = U(lr wd); see numeric.optimizers for the formulas."""
    for j in range(a, b):
        gj = g[j]
        if wd != 0.0:
            gj = _rq(gj + _rq(wd * w[j], C_U, qi, qf, keys, j, cnt), C_U, qi, qf, keys, j, cnt)
        m0 = m[j]
        dm = _rq(uc1 * _rq(gj - m0, C_U, qi, qf, keys, j, cnt), C_U, qi, qf, keys, j, cnt)
        mj = _rq(_rq(m0 + dm, C_U, qi, qf, keys, j, cnt), C_M, qi, qf, keys, j, cnt)
        t1 = _rq(v[j] * b2, C_U, qi, qf, keys, j, cnt)
        t2 = _rq(_rq(uc2 * gj, C_U, qi, qf, keys, j, cnt) * gj, C_U, qi, qf, keys, j, cnt)
        vj = _rq(_rq(t1 + t2, C_U, qi, qf, keys, j, cnt), C_V, qi, qf, keys, j, cnt)
        sq = _rq(np.sqrt(vj), C_U, qi, qf, keys, j, cnt)
        den = _rq(_rq(sq / bc2_sqrt, C_U, qi, qf, keys, j, cnt) + eps, C_U, qi, qf, keys, j, cnt)
        dj = _rq(ustep * _rq(mj / den, C_U, qi, qf, keys, j, cnt), C_U, qi, qf, keys, j, cnt)
        if decoupled:
            dj = _rq(_rq(lrwd_u * w[j], C_U, qi, qf, keys, j, cnt) + dj, C_U, qi, qf, keys, j, cnt)
        d[j] = dj
        m[j] = mj
        v[j] = vj


@njit(cache=True, nogil=True, error_model="numpy")
def sgdm_kernel(g, w, m, d, a, b, mu, wd, lr, nesterov, qi, qf, keys, cnt):
    """g = U(g + U(wd w)); b = Q_M(U(U(mu b) + g)); d = U(lr (U(g + U(mu b)) if nesterov else b))."""
    for j in range(a, b):
        gj = g[j]
        if wd != 0.0:
            gj = _rq(gj + _rq(wd * w[j], C_U, qi, qf, keys, j, cnt), C_U, qi, qf, keys, j, cnt)
        bj = _rq(_rq(_rq(mu * m[j], C_U, qi, qf, keys, j, cnt) + gj, C_U, qi, qf, keys, j, cnt),
                 C_M, qi, qf, keys, j, cnt)
        if nesterov:
            dv = _rq(gj + _rq(mu * bj, C_U, qi, qf, keys, j, cnt), C_U, qi, qf, keys, j, cnt)
        else:
            dv = bj
        d[j] = _rq(lr * dv, C_U, qi, qf, keys, j, cnt)
        m[j] = bj


@njit(cache=True, nogil=True, error_model="numpy")
def muon_momentum_kernel(g, m, nout, a, b, beta, ema, nesterov, qi, qf, keys, cnt):
    """Muon's elementwise part: gg = g (sum) or U((1 - beta) g) (ema); M = Q_M(U(U(beta M) + gg));
    N = U(gg + U(beta M)) with Nesterov, else M (written to ``nout`` only with Nesterov)."""
    c1 = 1.0 - beta
    for j in range(a, b):
        gj = g[j]
        if ema:
            gj = _rq(c1 * gj, C_U, qi, qf, keys, j, cnt)
        mj = _rq(_rq(_rq(beta * m[j], C_U, qi, qf, keys, j, cnt) + gj, C_U, qi, qf, keys, j, cnt),
                 C_M, qi, qf, keys, j, cnt)
        if nesterov:
            nout[j] = _rq(gj + _rq(beta * mj, C_U, qi, qf, keys, j, cnt), C_U, qi, qf, keys, j, cnt)
        m[j] = mj


def run(kernel, n: int, qi, qf, keys, args) -> np.ndarray:
    """Run ``kernel(*arrays, a, b, *scalars, qi, qf, keys, cnt)`` over [0, n) in chunks on the
    thread pool of the rounding kernel and return the summed (3, 3) counts; ``args`` is the pair
    (arrays, scalars), in the order of the kernel's signature."""
    arrays, scalars = args

    def work(a, b):
        cnt = np.zeros((3, 3), dtype=np.int64)
        kernel(*arrays, a, b, *scalars, qi, qf, keys, cnt)
        return cnt

    cnts = run_chunked(work, n)
    return np.sum(cnts, axis=0) if cnts else np.zeros((3, 3), dtype=np.int64)
