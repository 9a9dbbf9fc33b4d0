"""Quantized optimizers with one interface: ``make_optimizer(name, **hparams)``.

Interface. ``opt.init(shapes) -> state``; ``opt.step(params, grads, state, t, qz) -> deltas``, where
``params`` are the master weights (float64 arrays), ``grads`` the stochastic gradients *as stored*
(already Q_G-rounded by the harness, taken at Q_W(params)), ``t = 1, 2, ...`` the step number, ``qz`` a
:class:`numeric.quantplan.Quantizers` (``qz("M", x, i)`` = Q_M on parameter i, ``qz.U(x)`` = rounding
of one intermediate of the update arithmetic, identity in float64). The optimizer returns the update
``delta`` per parameter; the harness applies ``W <- W - delta`` (see numeric/harness.py). Optimizer
state (m, v, momentum) is kept exactly as stored, i.e. after Q_M / Q_V.

Names and update rules (per coordinate unless stated; g the stored gradient):

``adam`` - the paper's (Defossez et al.) form, m_0 = v_0 = 0::

    m_t = Q_M(beta1 m_{t-1} + g_t)              v_t = Q_V(beta2 v_{t-1} + g_t^2)
    alpha_t = lr (1 - beta1) sqrt((1 - beta2^t) / (1 - beta2))
    delta_t = alpha_t m_t / sqrt(eps + v_t)       (eps inside the square root)

``adam-torch`` - torch.optim.Adam's arithmetic (single-tensor path), L2 weight decay ``weight_decay``::

    g <- g + wd W;   m_t = Q_M(m + (1-beta1)(g - m));   v_t = Q_V(beta2 v + ((1-beta2) g) g)
    delta_t = (lr / (1 - beta1^t)) * (m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps))

``adamw`` - as adam-torch but decoupled decay: delta_t = lr wd W + (the adam-torch delta), wd = 0.01.

``muon`` - for every parameter with ndim >= 2 (higher ranks are reshaped to (shape[0], -1))::

    momentum="sum": M_t = Q_M(beta M_{t-1} + G_t)      momentum="ema": M_t = Q_M(beta M_{t-1} + (1-beta) G_t)
    N_t = M_t, or with nesterov=True: G_t + beta M_t (sum) / (1-beta) G_t + beta M_t (ema)
    O_t = polar(N_t) = U V^T of the thin SVD N = U S V^T (polar="svd", the paper's setting; singular
          values <= max(m, n) eps_64 s_max are treated as zero), or the 5-step Newton-Schulz quintic
          (polar="ns"): X_0 = N / (||N||_F + 1e-7), X <- a X + (b A + c A^2) X with A = X X^T,
          (a, b, c) = (3.4445, -4.7750, 2.0315), on the wide orientation
    delta_t = lr * s * O_t,  s = 1 (scale="none"), sqrt(max(1, m/n)) ("jordan"), 0.2 sqrt(max(m, n)) ("moonshot")

  With ``ns_quant="bf16"`` (or ``"e8m3:sr"``...) every Newton-Schulz product and combination is rounded
  to that format (counted under component "U"). Parameters with ndim < 2 use the Adam rule named by
  ``adam`` ("adam" or "adam-torch") with ``adam_lr``, ``adam_beta1``, ``adam_beta2``, ``adam_eps``.

``sgdm`` - SGD with momentum (torch form, dampening 0): g <- g + wd W; b_t = Q_M(mu b_{t-1} + g);
  delta_t = lr (g + mu b_t) if nesterov else lr b_t.

Every optimizer takes ``schedule``: "constant" (default; lr as given) or "inv_sqrt" (lr_t = lr / sqrt(t),
also applied to Muon's adam_lr); "lr" above means lr_t.

The arithmetic order written above is the one implemented, so a plain float64 implementation written
the same way agrees bit for bit when the plan is empty (tests/numeric/test_optimizers.py checks this).

Two implementations of every update: ``step_reference`` (numpy, one pass over memory per operation
and per rounding: the reference) and ``step_fused`` (numeric._fused_numba: one compiled pass per
parameter reading g, m, v (and x for weight decay) once, every rounding in cache). ``step`` uses
the fused one whenever it can (:func:`fused_available`); both give the same bits (NaN payloads
aside, which IEEE 754 leaves open), the same counts, and draw the same random numbers
(tests/numeric/test_fused.py). For Muon the momentum and Nesterov combination are fused; the polar
factor is a matrix computation either way.
"""
from __future__ import annotations

import math

import numpy as np

from qbound.numeric.errors import InputError, close_matches, did_you_mean
from qbound.numeric.quantplan import CompQuant

NS_COEFFS = (3.4445, -4.7750, 2.0315)
SCHEDULES = ("constant", "inv_sqrt")


class Optimizer:
    """Base class. Subclasses define ``name``, ``defaults`` and :meth:`step`."""

    name = "?"
    defaults: dict = {}

    def __init__(self, **hparams):
        bad = [k for k in hparams if k not in self.defaults]
        if bad:
            msgs = []
            for k in bad:
                close = close_matches(k, self.defaults, n=1, cutoff=0.5)
                msgs.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise InputError(f"optimizer {self.name} does not take {', '.join(msgs)}. "
                             f"Accepted hyperparameters: {', '.join(self.defaults)}.")
        hp = dict(self.defaults)
        hp.update(hparams)
        self.hparams = self._validate(hp)

    def _validate(self, hp: dict) -> dict:
        for k in ("lr", "adam_lr"):
            if k in hp and not (float(hp[k]) > 0):
                raise InputError(f"{k} must be > 0, got {hp[k]}")
        for k in ("beta1", "beta2", "beta", "momentum_coef", "adam_beta1", "adam_beta2"):
            if k in hp and not (0.0 <= float(hp[k]) < 1.0):
                raise InputError(f"{k} must be in [0, 1), got {hp[k]}")
        for k in ("eps", "adam_eps", "weight_decay"):
            if k in hp and not (float(hp[k]) >= 0):
                raise InputError(f"{k} must be >= 0, got {hp[k]}")
        if hp.get("schedule", "constant") not in SCHEDULES:
            hint = did_you_mean(hp["schedule"], SCHEDULES, n=1, cutoff=0.3)
            raise InputError(f"schedule={hp['schedule']!r} is not accepted.{hint} Accepted: {', '.join(SCHEDULES)}.")
        for k, v in hp.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                hp[k] = float(v) if k not in ("ns_steps",) else int(v)
        return hp

    def lr(self, t: int, key: str = "lr") -> float:
        """Learning rate at step t: lr (schedule="constant") or lr / sqrt(t) ("inv_sqrt")."""
        lr = self.hparams[key]
        return lr if self.hparams["schedule"] == "constant" else lr / math.sqrt(t)

    def spec(self) -> dict:
        return {"name": self.name, **self.hparams}

    def init(self, shapes) -> dict:
        raise NotImplementedError

    def step(self, params, grads, state, t, qz, *, fused: bool | None = None) -> list:
        """One update: the deltas per parameter (state updated). ``fused=None`` (default) runs the
        compiled one-pass kernel when :func:`fused_available` says it can (numba present, ``qz`` a
        :class:`~qbound.numeric.quantplan.Quantizers` that is not recording), ``True`` insists on
        it (RuntimeError otherwise), ``False`` runs :meth:`step_reference`. Both give the same
        bits, the same counts and consume the same random numbers; the fused kernel updates the
        state arrays m, v in place."""
        if fused is None:
            fused = fused_available(qz)
        elif fused and not fused_available(qz):
            raise RuntimeError("fused steps need numba and a Quantizers that is not recording (record=False)")
        if fused:
            return self.step_fused(params, grads, state, t, qz)
        return self.step_reference(params, grads, state, t, qz)

    def step_reference(self, params, grads, state, t, qz) -> list:
        """The multi-pass implementation: numpy array operations, each rounded by ``qz``."""
        raise NotImplementedError

    def step_fused(self, params, grads, state, t, qz) -> list:
        """The same update in one compiled pass per parameter (numeric._fused_numba)."""
        raise NotImplementedError

    def train_step(self, x, grads, state, t, qz, *, fused: bool | None = None, deltas: bool = False) -> "TrainStep":
        """One whole quantized training step after the gradient evaluation, as numeric.harness runs
        it: g = Q_G(grads), delta = the update (Q_M, Q_V, U inside), x_t = U(x - delta), with
        master="stored" x_t = Q_W(x_t); returns :class:`TrainStep` (x_t, xq, deltas) with xq =
        Q_W(x_t) the point of the next gradient evaluation (x_t itself when W is not rounded
        separately) and the deltas only with ``deltas=True``. ``x`` are the master weights, not
        changed; ``grads`` the raw gradients taken at the current evaluation point.

        ``fused`` as in :meth:`step`. The fused form (Adam in both forms, AdamW, SGDM) is one
        compiled pass per parameter reading x, g, m, v once and writing x_t, xq, m, v once (and
        delta with ``deltas=True``); Muon fuses Q_G into its momentum pass and U(x - delta), Q_W
        into one pass after the polar factor. Both forms give the same bits, counts and random
        draws as :meth:`train_step_reference` (tests/numeric/test_fused_train_step.py).

        >>> import numpy as np
        >>> from qbound.numeric.quantplan import QuantPlan, Quantizers
        >>> opt = make_optimizer("adam", lr=0.25)
        >>> plan = QuantPlan.parse("W=bf16,G=fp8_e5m2,M=fp8_e4m3fn,V=bf16")
        >>> x0, g0 = [np.array([1.0, -2.0])], [np.array([0.3, 0.01])]
        >>> a = opt.train_step(x0, g0, opt.init([(2,)]), 1, Quantizers(plan), fused=True)
        >>> b = opt.train_step(x0, g0, opt.init([(2,)]), 1, Quantizers(plan), fused=False)
        >>> a.x[0].tolist() == b.x[0].tolist(), a.xq[0].tolist()
        (True, [0.9765625, -2.03125])
        """
        if fused is None:
            fused = fused_available(qz)
        elif fused and not fused_available(qz):
            raise RuntimeError("fused steps need numba and a Quantizers that is not recording (record=False)")
        if fused:
            return self.train_step_fused(x, grads, state, t, qz, deltas)
        return self.train_step_reference(x, grads, state, t, qz, deltas)

    def train_step_reference(self, x, grads, state, t, qz, deltas: bool = False) -> "TrainStep":
        """The multi-pass whole step (the oracle): the very sequence of numeric.harness."""
        g = [qz("G", np.asarray(gi, dtype=np.float64), i) for i, gi in enumerate(grads)]
        ds = self.step_reference(x, g, state, t, qz)
        xn = [qz.U(p - dl) for p, dl in zip(x, ds)]
        stored = qz.plan.master == "stored"
        if stored:
            xn = [qz("W", p, i) for i, p in enumerate(xn)]
        xq = xn if (stored or qz.plan.W is None) else [qz("W", p, i) for i, p in enumerate(xn)]
        return TrainStep(xn, xq, ds if deltas else None)

    def train_step_fused(self, x, grads, state, t, qz, deltas: bool = False) -> "TrainStep":
        """The fused whole step (see :meth:`train_step`)."""
        return _train_step_generic_fused(self, x, grads, state, t, qz, deltas)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.hparams.items())})"


# ---------------------------------------------------------------------- Adam, paper form
def _adam_paper_param(i, g, m, v, t, qz, lr, b1, b2, eps):
    U = qz.U
    m = qz("M", U(U(b1 * m) + g), i)
    v = qz("V", U(U(b2 * v) + U(g * g)), i)
    alpha = lr * (1.0 - b1) * math.sqrt((1.0 - b2 ** t) / (1.0 - b2))
    delta = U(U(U(alpha) * m) / U(np.sqrt(U(eps + v))))
    return delta, m, v


def _adam_torch_param(i, g, m, v, t, qz, lr, b1, b2, eps):
    U = qz.U
    m = qz("M", U(m + U(U(1.0 - b1) * U(g - m))), i)
    v = qz("V", U(U(v * b2) + U(U(U(1.0 - b2) * g) * g)), i)
    step_size = lr / (1.0 - b1 ** t)
    bc2_sqrt = math.sqrt(1.0 - b2 ** t)
    denom = U(U(U(np.sqrt(v)) / bc2_sqrt) + eps)
    delta = U(U(step_size) * U(m / denom))
    return delta, m, v


# ---------------------------------------------------------------------- fused kernels (one pass)
def fused_available(qz) -> bool:
    """Whether :meth:`Optimizer.step` can run the fused kernel with this quantizer set."""
    from qbound.numeric.quantplan import Quantizers
    from qbound.numeric.rounding import compiled_kernel
    return isinstance(qz, Quantizers) and qz.fusable and compiled_kernel() is not None


#: the rounding sites of a fused kernel, in the order of numeric._fused_numba's C_M .. C_W
_SITE_NAMES = ("M", "V", "U", "G", "W")


def _sites(qz, comps=("M", "V")):
    """qi, qf, keys arrays of the sites M, V, U, G, W (those not in ``comps`` inactive, except U).

    Keys are drawn one per active stochastic site, each from its own component's generator (one
    draw per parameter and step, as the reference's one quantize call per parameter draws), so the
    order between components does not matter."""
    n = len(_SITE_NAMES)
    qi = np.zeros((n, 6), dtype=np.int64)
    qf = np.zeros((n, 4))
    keys = np.zeros(n, dtype=np.uint64)
    for c, name in enumerate(_SITE_NAMES):
        if name in comps or name == "U":
            qi[c], qf[c], key = qz.kernel_site(name)
            keys[c] = np.uint64(key)
    return qi, qf, keys


def _flat(a):
    """A C-contiguous float64 flat view of ``a`` (a copy only when ``a`` is not already one)."""
    return np.ascontiguousarray(a, dtype=np.float64).reshape(-1)


def _state(arr):
    """The state array itself when it can be updated in place, else a contiguous float64 copy."""
    if isinstance(arr, np.ndarray) and arr.dtype == np.float64 and arr.flags.c_contiguous and arr.flags.writeable:
        return arr
    return np.array(arr, dtype=np.float64, order="C")


def _count(qz, cnt, comps):
    for c, name in enumerate(_SITE_NAMES):
        if name in comps or name == "U":
            if qz.active(name):
                qz.add_counts(name, *cnt[c])


def _scalar_u(qz, x: float) -> float:
    """U(x) for a per-call scalar, rounded (and counted) once, as the reference does."""
    return float(qz.U(x))


_EMPTY = np.empty(0)


class _Whole:
    """What a whole training step (:meth:`Optimizer.train_step`) adds to one parameter's fused
    kernel call: the master weights ``x`` (read), the new weights ``xn`` and evaluation point ``xq``
    (written), the flags, and the extra sites (G, W). ``None`` in place of a _Whole is the update
    alone (:meth:`Optimizer.step`), whose kernel writes delta."""

    def __init__(self, qz, want_d: bool):
        from qbound.numeric import _fused_numba as F
        self.stored = qz.plan.master == "stored"
        self.wq = qz.plan.W is not None
        self.flags = (F.F_FULL | (F.F_WANT_D if want_d else 0) | (F.F_STORED if self.stored else 0)
                      | (F.F_XQ if self.wq and not self.stored else 0))
        self.want_d = want_d
        self.comps = ("G", "W") if (self.stored or self.wq) else ("G",)
        self.xn: list = []
        self.xq: list = []

    def arrays(self, x, shape, need_d: bool = True):
        """(x flat, d, xn, xq) for one parameter; records xn and xq (xq is xn when W is not rounded
        separately)."""
        xf = _flat(x)
        xn = np.empty(shape)
        xq = np.empty(shape) if (self.wq and not self.stored) else xn
        d = np.empty(shape) if (self.want_d and need_d) else _EMPTY
        self.xn.append(xn)
        self.xq.append(xq)
        return xf, d, xn, xq


def _kernel_arrays(whole, x, g, shape):
    """The array arguments (x, g, d, xn, xq) of a fused kernel, flat, plus d (the delta to return,
    None in a whole step without deltas) and the flags."""
    gf = _flat(g)
    if whole is None:
        d = np.empty(shape)
        xf = _flat(x) if x is not None else gf
        return (xf, gf, d.reshape(-1), _EMPTY, _EMPTY), d, 0
    xf, d, xn, xq = whole.arrays(x, shape)
    return (xf, gf, d.reshape(-1), xn.reshape(-1), xq.reshape(-1)), (d if whole.want_d else None), whole.flags


def _adam_paper_fused(i, g, m, v, t, qz, lr, b1, b2, eps, x=None, whole=None):
    from qbound.numeric import _fused_numba as F
    comps = ("M", "V") + (whole.comps if whole is not None else ())
    qi, qf, keys = _sites(qz, comps)
    m, v = _state(m), _state(v)
    (xf, gf, df, xnf, xqf), d, flags = _kernel_arrays(whole, x, g, m.shape)
    alpha = lr * (1.0 - b1) * math.sqrt((1.0 - b2 ** t) / (1.0 - b2))
    ua = _scalar_u(qz, alpha)
    cnt = F.run(F.adam_paper_kernel, gf.size, qi, qf, keys,
                ((xf, gf, m.reshape(-1), v.reshape(-1), df, xnf, xqf), (b1, b2, eps, ua, flags)))
    _count(qz, cnt, comps)
    return d, m, v


def _adam_torch_fused(i, g, m, v, t, qz, lr, b1, b2, eps, w=None, wd=0.0, decoupled=False, whole=None):
    from qbound.numeric import _fused_numba as F
    comps = ("M", "V") + (whole.comps if whole is not None else ())
    qi, qf, keys = _sites(qz, comps)
    m, v = _state(m), _state(v)
    (xf, gf, df, xnf, xqf), d, flags = _kernel_arrays(whole, w if (wd or whole is not None) else None, g, m.shape)
    lrwd = _scalar_u(qz, lr * wd) if decoupled else 0.0
    uc1 = _scalar_u(qz, 1.0 - b1)
    uc2 = _scalar_u(qz, 1.0 - b2)
    ustep = _scalar_u(qz, lr / (1.0 - b1 ** t))
    bc2_sqrt = math.sqrt(1.0 - b2 ** t)
    cnt = F.run(F.adam_torch_kernel, gf.size, qi, qf, keys,
                ((xf, gf, m.reshape(-1), v.reshape(-1), df, xnf, xqf),
                 (b2, eps, 0.0 if decoupled else wd, bool(decoupled), lrwd, uc1, uc2, ustep, bc2_sqrt, flags)))
    _count(qz, cnt, comps)
    return d, m, v


class TrainStep(tuple):
    """The result of :meth:`Optimizer.train_step`: ``(x, xq, deltas)`` - the new master weights
    x_t, the next evaluation point Q_W(x_t) (x_t itself when W is not quantized or with
    master="stored"), and the deltas (None unless asked for)."""

    __slots__ = ()

    def __new__(cls, x, xq, deltas):
        return super().__new__(cls, (x, xq, deltas))

    @property
    def x(self) -> list:
        return self[0]

    @property
    def xq(self) -> list:
        return self[1]

    @property
    def deltas(self):
        return self[2]


def _train_step_generic_fused(opt, x, grads, state, t, qz, deltas):
    """A whole step for an optimizer without a whole-step kernel: Q_G (compiled quantize), the
    fused update, then one pass for U(x - delta) and Q_W (numeric._fused_numba.apply_kernel)."""
    g = [qz("G", np.asarray(gi, dtype=np.float64), i) for i, gi in enumerate(grads)]
    ds = opt.step_fused(x, g, state, t, qz)
    whole = _Whole(qz, False)
    for p, dl in zip(x, ds):
        _apply_one(whole, p, dl, qz)
    return TrainStep(whole.xn, whole.xq, list(ds) if deltas else None)


def _apply_one(whole, p, dl, qz):
    """x_t = U(p - dl) (Q_W with master="stored") and xq = Q_W(x_t), one pass, into ``whole``."""
    from qbound.numeric import _fused_numba as F
    comps = tuple(c for c in whole.comps if c != "G")
    qi, qf, keys = _sites(qz, comps)
    xf, _, xn, xq = whole.arrays(p, np.shape(dl), need_d=False)
    cnt = F.run(F.apply_kernel, xf.size, qi, qf, keys,
                ((xf, _flat(dl), xn.reshape(-1), xq.reshape(-1)), (whole.flags,)))
    _count(qz, cnt, comps)


def _whole_step(opt, x, grads, state, t, qz, deltas):
    """A whole step through ``opt.step_fused(..., whole=...)``: every kernel also rounds g (Q_G)
    as read and writes x_t and Q_W(x_t)."""
    whole = _Whole(qz, deltas)
    ds = opt.step_fused(x, grads, state, t, qz, whole=whole)
    return TrainStep(whole.xn, whole.xq, ds if deltas else None)


class AdamPaper(Optimizer):
    name = "adam"
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "schedule": "constant"}

    def init(self, shapes):
        return {"m": [np.zeros(s) for s in shapes], "v": [np.zeros(s) for s in shapes]}

    def step_reference(self, params, grads, state, t, qz):
        hp = self.hparams
        out = []
        for i, g in enumerate(grads):
            d, state["m"][i], state["v"][i] = _adam_paper_param(
                i, g, state["m"][i], state["v"][i], t, qz, self.lr(t), hp["beta1"], hp["beta2"], hp["eps"])
            out.append(d)
        return out

    def step_fused(self, params, grads, state, t, qz, whole=None):
        hp = self.hparams
        out = []
        for i, g in enumerate(grads):
            d, state["m"][i], state["v"][i] = _adam_paper_fused(
                i, g, state["m"][i], state["v"][i], t, qz, self.lr(t), hp["beta1"], hp["beta2"], hp["eps"],
                x=params[i], whole=whole)
            out.append(d)
        return out

    def train_step_fused(self, x, grads, state, t, qz, deltas=False):
        return _whole_step(self, x, grads, state, t, qz, deltas)


class AdamTorch(Optimizer):
    name = "adam-torch"
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "schedule": "constant"}

    def init(self, shapes):
        return {"m": [np.zeros(s) for s in shapes], "v": [np.zeros(s) for s in shapes]}

    def step_reference(self, params, grads, state, t, qz):
        hp = self.hparams
        wd = hp["weight_decay"]
        out = []
        for i, g in enumerate(grads):
            if wd:
                g = qz.U(g + qz.U(wd * params[i]))
            d, state["m"][i], state["v"][i] = _adam_torch_param(
                i, g, state["m"][i], state["v"][i], t, qz, self.lr(t), hp["beta1"], hp["beta2"], hp["eps"])
            out.append(d)
        return out

    def step_fused(self, params, grads, state, t, qz, whole=None):
        hp = self.hparams
        out = []
        for i, g in enumerate(grads):
            d, state["m"][i], state["v"][i] = _adam_torch_fused(
                i, g, state["m"][i], state["v"][i], t, qz, self.lr(t), hp["beta1"], hp["beta2"], hp["eps"],
                w=params[i], wd=hp["weight_decay"], whole=whole)
            out.append(d)
        return out

    def train_step_fused(self, x, grads, state, t, qz, deltas=False):
        return _whole_step(self, x, grads, state, t, qz, deltas)


class AdamW(AdamTorch):
    name = "adamw"
    defaults = {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-2, "schedule": "constant"}

    def step_reference(self, params, grads, state, t, qz):
        hp = self.hparams
        U = qz.U
        out = []
        for i, g in enumerate(grads):
            d, state["m"][i], state["v"][i] = _adam_torch_param(
                i, g, state["m"][i], state["v"][i], t, qz, self.lr(t), hp["beta1"], hp["beta2"], hp["eps"])
            if hp["weight_decay"]:
                d = U(U(U(self.lr(t) * hp["weight_decay"]) * params[i]) + d)
            out.append(d)
        return out

    def step_fused(self, params, grads, state, t, qz, whole=None):
        hp = self.hparams
        out = []
        for i, g in enumerate(grads):
            d, state["m"][i], state["v"][i] = _adam_torch_fused(
                i, g, state["m"][i], state["v"][i], t, qz, self.lr(t), hp["beta1"], hp["beta2"], hp["eps"],
                w=params[i], wd=hp["weight_decay"], decoupled=bool(hp["weight_decay"]), whole=whole)
            out.append(d)
        return out


# ---------------------------------------------------------------------- Muon
def polar_svd(N: np.ndarray) -> np.ndarray:
    """Exact polar factor U V^T of N (thin SVD), dropping numerically-zero singular values."""
    if not np.any(N):
        return np.zeros_like(N)
    U, s, Vt = np.linalg.svd(N, full_matrices=False)
    keep = s > max(N.shape) * np.finfo(np.float64).eps * s[0]
    return (U[:, keep]) @ Vt[keep]


def newton_schulz(N: np.ndarray, steps: int = 5, coeffs=NS_COEFFS, rnd=None) -> np.ndarray:
    """Newton-Schulz quintic approximation of the polar factor (Keller Jordan's Muon).

    ``rnd`` (optional) rounds every product and combination, emulating low-precision matmuls.
    """
    r = rnd if rnd is not None else (lambda x: x)
    a, b, c = coeffs
    X = r(N / (np.linalg.norm(N) + 1e-7))
    tr = X.shape[0] > X.shape[1]
    if tr:
        X = X.T
    for _ in range(int(steps)):
        A = r(X @ X.T)
        B = r(r(b * A) + r(c * r(A @ A)))
        X = r(r(a * X) + r(B @ X))
    return X.T if tr else X


class Muon(Optimizer):
    name = "muon"
    defaults = {"lr": 0.02, "beta": 0.95, "momentum": "sum", "nesterov": False, "polar": "svd",
                "scale": "none", "ns_steps": 5, "ns_quant": None,
                "adam": "adam", "adam_lr": 1e-3, "adam_beta1": 0.9, "adam_beta2": 0.999, "adam_eps": 1e-8,
                "schedule": "constant"}
    CHOICES = {"momentum": ("sum", "ema"), "polar": ("svd", "ns"), "scale": ("none", "jordan", "moonshot"),
               "adam": ("adam", "adam-torch")}

    def _validate(self, hp):
        hp = super()._validate(hp)
        for k, choices in self.CHOICES.items():
            if hp[k] not in choices:
                hint = did_you_mean(hp[k], choices, n=1, cutoff=0.3)
                raise InputError(f"muon {k}={hp[k]!r} is not accepted.{hint} Accepted: {', '.join(choices)}.")
        hp["nesterov"] = _as_bool(hp["nesterov"], "nesterov")
        if hp["ns_quant"] in ("", "none", "None"):
            hp["ns_quant"] = None
        if hp["ns_quant"] is not None:
            self._nsq = CompQuant.parse(str(hp["ns_quant"]))
            hp["ns_quant"] = str(self._nsq)
        else:
            self._nsq = None
        return hp

    def init(self, shapes):
        return {"m": [np.zeros(s) for s in shapes],
                "v": [np.zeros(s) if len(s) < 2 else None for s in shapes]}

    def direction(self, N: np.ndarray, qz) -> np.ndarray:
        hp = self.hparams
        shape = N.shape
        N2 = N.reshape(shape[0], -1)
        if hp["polar"] == "svd":
            O = polar_svd(N2)
        else:
            if self._nsq is not None:
                rnd = lambda x: qz.apply(self._nsq, x, "U")  # noqa: E731
            elif qz.active("U"):
                rnd = qz.U
            else:
                rnd = None
            O = newton_schulz(N2, hp["ns_steps"], rnd=rnd)
        rows, cols = N2.shape
        if hp["scale"] == "jordan":
            O = O * math.sqrt(max(1.0, rows / cols))
        elif hp["scale"] == "moonshot":
            O = O * (0.2 * math.sqrt(max(rows, cols)))
        return O.reshape(shape)

    def step_reference(self, params, grads, state, t, qz):
        hp = self.hparams
        U = qz.U
        beta = hp["beta"]
        out = []
        adam_fn = _adam_paper_param if hp["adam"] == "adam" else _adam_torch_param
        for i, g in enumerate(grads):
            if g.ndim < 2:
                d, state["m"][i], state["v"][i] = adam_fn(
                    i, g, state["m"][i], state["v"][i], t, qz, self.lr(t, "adam_lr"), hp["adam_beta1"],
                    hp["adam_beta2"], hp["adam_eps"])
                out.append(d)
                continue
            gg = g if hp["momentum"] == "sum" else U((1.0 - beta) * g)
            m = qz("M", U(U(beta * state["m"][i]) + gg), i)
            state["m"][i] = m
            N = U(gg + U(beta * m)) if hp["nesterov"] else m
            O = self.direction(N, qz)
            out.append(U(self.lr(t) * O))
        return out

    def step_fused(self, params, grads, state, t, qz, whole=None):
        """Muon's elementwise parts fused: the momentum (and Nesterov combination) in one pass, and
        the Adam rule of the ndim < 2 parameters; the polar factor is a matrix computation. In a
        whole step (``whole``) the momentum pass also applies Q_G, and U(x - delta) and Q_W follow
        the polar factor in one pass."""
        from qbound.numeric import _fused_numba as F
        hp = self.hparams
        beta = hp["beta"]
        out = []
        adam_fn = _adam_paper_fused if hp["adam"] == "adam" else _adam_torch_fused
        for i, g in enumerate(grads):
            if g.ndim < 2:
                kw = {"x": params[i]} if adam_fn is _adam_paper_fused else {"w": params[i]}
                d, state["m"][i], state["v"][i] = adam_fn(
                    i, g, state["m"][i], state["v"][i], t, qz, self.lr(t, "adam_lr"), hp["adam_beta1"],
                    hp["adam_beta2"], hp["adam_eps"], whole=whole, **kw)
                out.append(d)
                continue
            comps = ("M", "G") if whole is not None else ("M",)
            qi, qf, keys = _sites(qz, comps)
            m = _state(state["m"][i])
            gf = _flat(g)
            N = np.empty(m.shape) if hp["nesterov"] else m
            cnt = F.run(F.muon_momentum_kernel, gf.size, qi, qf, keys,
                        ((gf, m.reshape(-1), N.reshape(-1)),
                         (beta, hp["momentum"] == "ema", hp["nesterov"], F.F_FULL if whole is not None else 0)))
            _count(qz, cnt, comps)
            state["m"][i] = m
            O = self.direction(N, qz)
            d = qz.U(self.lr(t) * O)
            if whole is not None:
                _apply_one(whole, params[i], d, qz)
            out.append(d)
        return out

    def train_step_fused(self, x, grads, state, t, qz, deltas=False):
        return _whole_step(self, x, grads, state, t, qz, deltas)


# ---------------------------------------------------------------------- SGD with momentum
class SGDM(Optimizer):
    name = "sgdm"
    defaults = {"lr": 1e-2, "momentum_coef": 0.9, "nesterov": False, "weight_decay": 0.0, "schedule": "constant"}

    def _validate(self, hp):
        hp = super()._validate(hp)
        hp["nesterov"] = _as_bool(hp["nesterov"], "nesterov")
        return hp

    def init(self, shapes):
        return {"m": [np.zeros(s) for s in shapes]}

    def step_reference(self, params, grads, state, t, qz):
        hp = self.hparams
        U = qz.U
        mu, wd = hp["momentum_coef"], hp["weight_decay"]
        out = []
        for i, g in enumerate(grads):
            if wd:
                g = U(g + U(wd * params[i]))
            b = qz("M", U(U(mu * state["m"][i]) + g), i)
            state["m"][i] = b
            dvec = U(g + U(mu * b)) if hp["nesterov"] else b
            out.append(U(self.lr(t) * dvec))
        return out

    def step_fused(self, params, grads, state, t, qz, whole=None):
        from qbound.numeric import _fused_numba as F
        hp = self.hparams
        mu, wd = hp["momentum_coef"], hp["weight_decay"]
        out = []
        comps = ("M",) + (whole.comps if whole is not None else ())
        for i, g in enumerate(grads):
            qi, qf, keys = _sites(qz, comps)
            m = _state(state["m"][i])
            (xf, gf, df, xnf, xqf), d, flags = _kernel_arrays(
                whole, params[i] if (wd or whole is not None) else None, g, m.shape)
            cnt = F.run(F.sgdm_kernel, gf.size, qi, qf, keys,
                        ((xf, gf, m.reshape(-1), df, xnf, xqf), (mu, wd, self.lr(t), hp["nesterov"], flags)))
            _count(qz, cnt, comps)
            state["m"][i] = m
            out.append(d)
        return out

    def train_step_fused(self, x, grads, state, t, qz, deltas=False):
        return _whole_step(self, x, grads, state, t, qz, deltas)


def _as_bool(v, name):
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    s = str(v).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise InputError(f"{name} must be true or false, got {v!r}")


OPTIMIZERS = {"adam": AdamPaper, "adam-torch": AdamTorch, "adamw": AdamW, "muon": Muon, "sgdm": SGDM}


def make_optimizer(name: str, **hparams) -> Optimizer:
    """Build an optimizer by name: adam (paper form), adam-torch, adamw, muon, sgdm."""
    if isinstance(name, Optimizer):
        return name
    key = str(name).strip().lower().replace("_", "-")
    if key not in OPTIMIZERS:
        hint = did_you_mean(key, OPTIMIZERS, n=2, cutoff=0.4)
        raise InputError(f"unknown optimizer {name!r}.{hint} Accepted: {', '.join(OPTIMIZERS)}.")
    return OPTIMIZERS[key](**hparams)
