"""Fused quantized optimizer steps: one compiled pass per optimizer over x, g, m, v.

The multi-pass implementation in :mod:`qbound.numeric.optimizers` (``step_reference``) evaluates an
update rule as a sequence of numpy array operations, each followed by a rounding (Q_M, Q_V, or the
update arithmetic's U), every one a full pass over memory. The kernels here evaluate the *same
expression tree* on blocks of BLOCK = 512 elements that stay in cache: each array is read once and
written once, and every operation is a short loop over the block (vectorizable arithmetic, and
for each rounding site a loop specialized to its mode). Every float64 operation happens in the same
order (IEEE-754 double arithmetic is deterministic; no fast-math, no FMA contraction), every
rounding is the scalar rounding :func:`qbound.numeric._kernel_numba._one` of the compiled kernel,
with the same random
stream for stochastic rounding (element j of a call keyed by ``key`` uses SplitMix64(key + (j + 1)
GAMMA)), so the results are bit-identical to the reference, which the tests check for every format
family and mode.

Whole training steps (``flags & F_FULL``, :meth:`qbound.numeric.optimizers.Optimizer.train_step`): the
same kernels also apply Q_G to the gradient as it is read (site G), and after the update write the
new weights x_t = U(x - delta) (then Q_W(x_t) with master="stored") and, with ``F_XQ``, the next
evaluation point Q_W(x_t) (site W), so a whole quantized step reads x, g, m, v once and writes
x_t, Q_W(x_t), m, v once (delta too only with ``F_WANT_D``). Without ``F_FULL`` a kernel is the
optimizer update alone (``Optimizer.step``): it writes delta, m, v.

A rounding site c (M = 0, V = 1, U = 2, G = 3, W = 4) is described by a row of ``qi`` (int64: active, m, emin,
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

from qbound.numeric._kernel_numba import _GAMMA, _f2u, _mix, _one, _one64, _u2f, run_chunked

C_M, C_V, C_U, C_G, C_W = 0, 1, 2, 3, 4
#: rounding sites per kernel call (rows of qi, qf, keys, cnt)
N_SITES = 5
#: flags of a kernel call: a whole training step; also write delta; master="stored"; write Q_W(x_t)
F_FULL, F_WANT_D, F_STORED, F_XQ = 1, 2, 4, 8
_INF = np.inf


@njit(inline="always", cache=True)
def _site(qi, qf, keys, c):
    """The constants of site ``c`` as a tuple of scalars: (active, m, emin, subnormals, mode, k,
    key, huge, over_pos, over_neg, inf_val, then those of the vectorizable rounding
    :func:`~qbound.numeric._kernel_numba._one64`: usable, s0, emin_b, C, q0)."""
    m = qi[c, 1]
    emin = qi[c, 2]
    subn = qi[c, 3] != 0
    qe0 = emin - m if subn else emin
    use64 = m <= 52 and qe0 >= -1022 and emin + 1023 >= 1
    s0 = np.uint64(52 - m) if use64 else np.uint64(0)
    emin_b = np.uint64(emin + 1023) if use64 else np.uint64(0)
    C = emin_b + (s0 if subn else np.uint64(52))
    q0 = _u2f(np.uint64(qe0 + 1023) << np.uint64(52)) if use64 else 1.0
    return (qi[c, 0] != 0, m, emin, subn, qi[c, 4], qi[c, 5], keys[c],
            qf[c, 0], qf[c, 1], qf[c, 2], qf[c, 3], use64, s0, emin_b, C, q0)


#: elements per block: every operation of the update is one short loop over a block held in cache
BLOCK = 512


@njit(inline="always", cache=True)
def _blk(buf, n, s, start, cnt, c, mode):
    """Round buf[:n] in place at a site with constants ``s`` in rounding mode ``mode`` (a literal
    in each caller, so the loop is specialized) and add the counts to cnt[c]. Formats whose finest
    quantum is a normal float64 (all but the widest) take the branch-free :func:`_one64`, whose
    loop vectorizes; the others the general :func:`_one` (the same values)."""
    ov = 0
    nan = 0
    und = 0
    huge = s[7]
    drop = np.uint64(64 - s[5])
    if s[11]:
        s0, emin_b, C, q0 = s[12], s[13], s[14], s[15]
        for i in range(n):
            x = buf[i]
            r = np.uint64(0)
            if mode == 5:
                r = _mix(s[6] + np.uint64(start + i + 1) * _GAMMA) >> drop
            y = _u2f(_one64(_f2u(x), s0, emin_b, C, q0, mode, r, s[5], huge, s[8], s[9], s[10]))
            ax = abs(x)
            ov += 1 if (ax > huge) & (ax != _INF) else 0
            nan += 1 if y != y else 0
            und += 1 if (y == 0.0) & (x != 0.0) else 0
            buf[i] = y
    else:
        for i in range(n):
            x = buf[i]
            r = np.uint64(0)
            if mode == 5:
                r = _mix(s[6] + np.uint64(start + i + 1) * _GAMMA) >> drop
            y = _u2f(_one(_f2u(x), np.uint64(52), np.int64(1023), np.int64(2047), np.uint64(63),
                          s[1], s[2], s[3], mode, r, s[5], huge, s[8], s[9], s[10]))
            ax = abs(x)
            if ax > huge and ax != _INF:
                ov += 1
            if y != y:
                nan += 1
            if y == 0.0 and x != 0.0:
                und += 1
            buf[i] = y
    cnt[c, 0] += ov
    cnt[c, 1] += nan
    cnt[c, 2] += und


@njit(cache=True, nogil=True)
def _rb(buf, n, s, start, cnt, c):
    """Round the block buf[:n] (elements start..start+n-1 of the array) at site ``s`` (nothing when
    the site is inactive), counting into cnt[c]; one specialized loop per mode."""
    if not s[0]:
        return
    mode = s[4]
    if mode == 0:
        _blk(buf, n, s, start, cnt, c, 0)
    elif mode == 1:
        _blk(buf, n, s, start, cnt, c, 1)
    elif mode == 2:
        _blk(buf, n, s, start, cnt, c, 2)
    elif mode == 3:
        _blk(buf, n, s, start, cnt, c, 3)
    elif mode == 4:
        _blk(buf, n, s, start, cnt, c, 4)
    else:
        _blk(buf, n, s, start, cnt, c, 5)


@njit(inline="always", cache=True)
def _load_g(g, tg, n, j0, sG, cnt, flags):
    """tg[:n] = the gradient block, Q_G-rounded (site G) in a whole training step."""
    for i in range(n):
        tg[i] = g[j0 + i]
    if flags & F_FULL:
        _rb(tg, n, sG, j0, cnt, C_G)


@njit(inline="always", cache=True)
def _finish(x, xn, xq, d, td, tw, n, j0, sU, sW, cnt, flags):
    """Write the block's delta ``td`` (update only, or F_WANT_D) and in a whole step the new weights
    xn = U(x - delta) (then Q_W with F_STORED) and, with F_XQ, xq = Q_W(xn). ``tw`` is scratch.
    Every read of x in the block happens before xn is written, so xn may be x itself."""
    if (flags & F_FULL) == 0 or (flags & F_WANT_D) != 0:
        for i in range(n):
            d[j0 + i] = td[i]
    if flags & F_FULL:
        for i in range(n):
            tw[i] = x[j0 + i] - td[i]
        _rb(tw, n, sU, j0, cnt, C_U)
        if flags & F_STORED:
            _rb(tw, n, sW, j0, cnt, C_W)
        for i in range(n):
            xn[j0 + i] = tw[i]
        if flags & F_XQ:
            _rb(tw, n, sW, j0, cnt, C_W)
            for i in range(n):
                xq[j0 + i] = tw[i]


@njit(cache=True, nogil=True, error_model="numpy")
def adam_paper_kernel(x, g, m, v, d, xn, xq, a, b, b1, b2, eps, ualpha, flags, qi, qf, keys, cnt):
    """m = Q_M(U(U(b1 m) + g)); v = Q_V(U(U(b2 v) + U(g g))); d = U(U(U(alpha) m) / U(sqrt(U(eps + v))))."""
    sM = _site(qi, qf, keys, C_M)
    sV = _site(qi, qf, keys, C_V)
    sU = _site(qi, qf, keys, C_U)
    sG = _site(qi, qf, keys, C_G)
    sW = _site(qi, qf, keys, C_W)
    tg = np.empty(BLOCK)
    tm = np.empty(BLOCK)
    tv = np.empty(BLOCK)
    t2 = np.empty(BLOCK)
    t4 = np.empty(BLOCK)
    for j0 in range(a, b, BLOCK):
        n = min(BLOCK, b - j0)
        _load_g(g, tg, n, j0, sG, cnt, flags)
        for i in range(n):
            tm[i] = b1 * m[j0 + i]
        _rb(tm, n, sU, j0, cnt, C_U)
        for i in range(n):
            tm[i] = tm[i] + tg[i]
        _rb(tm, n, sU, j0, cnt, C_U)
        _rb(tm, n, sM, j0, cnt, C_M)          # m_t
        for i in range(n):
            gj = tg[i]
            t2[i] = gj * gj
        _rb(t2, n, sU, j0, cnt, C_U)
        for i in range(n):
            tv[i] = b2 * v[j0 + i]
        _rb(tv, n, sU, j0, cnt, C_U)
        for i in range(n):
            tv[i] = tv[i] + t2[i]
        _rb(tv, n, sU, j0, cnt, C_U)
        _rb(tv, n, sV, j0, cnt, C_V)          # v_t
        for i in range(n):
            t2[i] = ualpha * tm[i]
        _rb(t2, n, sU, j0, cnt, C_U)          # numerator
        for i in range(n):
            t4[i] = eps + tv[i]
        _rb(t4, n, sU, j0, cnt, C_U)
        for i in range(n):
            t4[i] = np.sqrt(t4[i])
        _rb(t4, n, sU, j0, cnt, C_U)          # denominator
        for i in range(n):
            t2[i] = t2[i] / t4[i]
        _rb(t2, n, sU, j0, cnt, C_U)
        _finish(x, xn, xq, d, t2, t4, n, j0, sU, sW, cnt, flags)
        for i in range(n):
            m[j0 + i] = tm[i]
            v[j0 + i] = tv[i]


@njit(cache=True, nogil=True, error_model="numpy")
def adam_torch_kernel(x, g, m, v, d, xn, xq, a, b, b2, eps, wd, decoupled, lrwd_u, uc1, uc2, ustep, bc2_sqrt,
                      flags, qi, qf, keys, cnt):
    """torch.optim.Adam's arithmetic (L2 decay ``wd`` into g when wd != 0), and with ``decoupled``
    AdamW's d = U(U(lrwd_u x) + d), lrwd_u = U(lr wd); see numeric.optimizers for the formulas.
    ``x`` is the master weights (read for weight decay and, in a whole step, for the update)."""
    sM = _site(qi, qf, keys, C_M)
    sV = _site(qi, qf, keys, C_V)
    sU = _site(qi, qf, keys, C_U)
    sG = _site(qi, qf, keys, C_G)
    sW = _site(qi, qf, keys, C_W)
    tg = np.empty(BLOCK)
    tm = np.empty(BLOCK)
    tv = np.empty(BLOCK)
    t1 = np.empty(BLOCK)
    t2 = np.empty(BLOCK)
    for j0 in range(a, b, BLOCK):
        n = min(BLOCK, b - j0)
        _load_g(g, tg, n, j0, sG, cnt, flags)
        if wd != 0.0:
            for i in range(n):
                t1[i] = wd * x[j0 + i]
            _rb(t1, n, sU, j0, cnt, C_U)
            for i in range(n):
                tg[i] = tg[i] + t1[i]
            _rb(tg, n, sU, j0, cnt, C_U)
        for i in range(n):
            t1[i] = tg[i] - m[j0 + i]
        _rb(t1, n, sU, j0, cnt, C_U)
        for i in range(n):
            t1[i] = uc1 * t1[i]
        _rb(t1, n, sU, j0, cnt, C_U)
        for i in range(n):
            tm[i] = m[j0 + i] + t1[i]
        _rb(tm, n, sU, j0, cnt, C_U)
        _rb(tm, n, sM, j0, cnt, C_M)          # m_t
        for i in range(n):
            t1[i] = v[j0 + i] * b2
        _rb(t1, n, sU, j0, cnt, C_U)
        for i in range(n):
            t2[i] = uc2 * tg[i]
        _rb(t2, n, sU, j0, cnt, C_U)
        for i in range(n):
            t2[i] = t2[i] * tg[i]
        _rb(t2, n, sU, j0, cnt, C_U)
        for i in range(n):
            tv[i] = t1[i] + t2[i]
        _rb(tv, n, sU, j0, cnt, C_U)
        _rb(tv, n, sV, j0, cnt, C_V)          # v_t
        for i in range(n):
            t1[i] = np.sqrt(tv[i])
        _rb(t1, n, sU, j0, cnt, C_U)
        for i in range(n):
            t1[i] = t1[i] / bc2_sqrt
        _rb(t1, n, sU, j0, cnt, C_U)
        for i in range(n):
            t1[i] = t1[i] + eps
        _rb(t1, n, sU, j0, cnt, C_U)          # denominator
        for i in range(n):
            t2[i] = tm[i] / t1[i]
        _rb(t2, n, sU, j0, cnt, C_U)
        for i in range(n):
            t2[i] = ustep * t2[i]
        _rb(t2, n, sU, j0, cnt, C_U)          # delta
        if decoupled:
            for i in range(n):
                t1[i] = lrwd_u * x[j0 + i]
            _rb(t1, n, sU, j0, cnt, C_U)
            for i in range(n):
                t2[i] = t1[i] + t2[i]
            _rb(t2, n, sU, j0, cnt, C_U)
        _finish(x, xn, xq, d, t2, t1, n, j0, sU, sW, cnt, flags)
        for i in range(n):
            m[j0 + i] = tm[i]
            v[j0 + i] = tv[i]


@njit(cache=True, nogil=True, error_model="numpy")
def sgdm_kernel(x, g, m, d, xn, xq, a, b, mu, wd, lr, nesterov, flags, qi, qf, keys, cnt):
    """g = U(g + U(wd x)); b = Q_M(U(U(mu b) + g)); d = U(lr (U(g + U(mu b)) if nesterov else b))."""
    sM = _site(qi, qf, keys, C_M)
    sU = _site(qi, qf, keys, C_U)
    sG = _site(qi, qf, keys, C_G)
    sW = _site(qi, qf, keys, C_W)
    tg = np.empty(BLOCK)
    tb = np.empty(BLOCK)
    t1 = np.empty(BLOCK)
    for j0 in range(a, b, BLOCK):
        n = min(BLOCK, b - j0)
        _load_g(g, tg, n, j0, sG, cnt, flags)
        if wd != 0.0:
            for i in range(n):
                t1[i] = wd * x[j0 + i]
            _rb(t1, n, sU, j0, cnt, C_U)
            for i in range(n):
                tg[i] = tg[i] + t1[i]
            _rb(tg, n, sU, j0, cnt, C_U)
        for i in range(n):
            tb[i] = mu * m[j0 + i]
        _rb(tb, n, sU, j0, cnt, C_U)
        for i in range(n):
            tb[i] = tb[i] + tg[i]
        _rb(tb, n, sU, j0, cnt, C_U)
        _rb(tb, n, sM, j0, cnt, C_M)          # b_t
        if nesterov:
            for i in range(n):
                t1[i] = mu * tb[i]
            _rb(t1, n, sU, j0, cnt, C_U)
            for i in range(n):
                t1[i] = tg[i] + t1[i]
            _rb(t1, n, sU, j0, cnt, C_U)
        else:
            for i in range(n):
                t1[i] = tb[i]
        for i in range(n):
            t1[i] = lr * t1[i]
        _rb(t1, n, sU, j0, cnt, C_U)
        _finish(x, xn, xq, d, t1, tg, n, j0, sU, sW, cnt, flags)
        for i in range(n):
            m[j0 + i] = tb[i]


@njit(cache=True, nogil=True, error_model="numpy")
def muon_momentum_kernel(g, m, nout, a, b, beta, ema, nesterov, flags, qi, qf, keys, cnt):
    """Muon's elementwise part: gg = g (sum) or U((1 - beta) g) (ema); M = Q_M(U(U(beta M) + gg));
    N = U(gg + U(beta M)) with Nesterov, else M (written to ``nout`` only with Nesterov). In a whole
    step (F_FULL) g is Q_G-rounded as it is read."""
    sM = _site(qi, qf, keys, C_M)
    sU = _site(qi, qf, keys, C_U)
    sG = _site(qi, qf, keys, C_G)
    c1 = 1.0 - beta
    tg = np.empty(BLOCK)
    tm = np.empty(BLOCK)
    t1 = np.empty(BLOCK)
    for j0 in range(a, b, BLOCK):
        n = min(BLOCK, b - j0)
        _load_g(g, tg, n, j0, sG, cnt, flags)
        if ema:
            for i in range(n):
                tg[i] = c1 * tg[i]
            _rb(tg, n, sU, j0, cnt, C_U)
        for i in range(n):
            tm[i] = beta * m[j0 + i]
        _rb(tm, n, sU, j0, cnt, C_U)
        for i in range(n):
            tm[i] = tm[i] + tg[i]
        _rb(tm, n, sU, j0, cnt, C_U)
        _rb(tm, n, sM, j0, cnt, C_M)          # M_t
        if nesterov:
            for i in range(n):
                t1[i] = beta * tm[i]
            _rb(t1, n, sU, j0, cnt, C_U)
            for i in range(n):
                t1[i] = tg[i] + t1[i]
            _rb(t1, n, sU, j0, cnt, C_U)
            for i in range(n):
                nout[j0 + i] = t1[i]
        for i in range(n):
            m[j0 + i] = tm[i]


@njit(cache=True, nogil=True, error_model="numpy")
def apply_kernel(x, d, xn, xq, a, b, flags, qi, qf, keys, cnt):
    """The end of a whole step for an update computed elsewhere (Muon's polar factor): xn =
    U(x - d), then Q_W with F_STORED; xq = Q_W(xn) with F_XQ; one pass."""
    sU = _site(qi, qf, keys, C_U)
    sW = _site(qi, qf, keys, C_W)
    td = np.empty(BLOCK)
    tw = np.empty(BLOCK)
    fl = (flags | F_FULL) & ~F_WANT_D
    for j0 in range(a, b, BLOCK):
        n = min(BLOCK, b - j0)
        for i in range(n):
            td[i] = d[j0 + i]
        _finish(x, xn, xq, d, td, tw, n, j0, sU, sW, cnt, fl)


def run(kernel, n: int, qi, qf, keys, args) -> np.ndarray:
    """Run ``kernel(*arrays, a, b, *scalars, qi, qf, keys, cnt)`` over [0, n) in chunks on the
    thread pool of the rounding kernel and return the summed (N_SITES, 3) counts; ``args`` is the pair
    (arrays, scalars), in the order of the kernel's signature."""
    arrays, scalars = args

    def work(a, b):
        cnt = np.zeros((N_SITES, 3), dtype=np.int64)
        kernel(*arrays, a, b, *scalars, qi, qf, keys, cnt)
        return cnt

    cnts = run_chunked(work, n)
    return np.sum(cnts, axis=0) if cnts else np.zeros((N_SITES, 3), dtype=np.int64)
