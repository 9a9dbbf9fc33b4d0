"""Quantized optimizers as ``torch.optim.Optimizer`` subclasses, driven by a :class:`QuantPlan`.

The plan is the same object and text as the CLI's ``--quant`` (``"W=bf16,G=fp8_e5m2:sr,M=fp8_e4m3fn,
V=bf16[,master=stored][,update=fp32]"``), and one step is the step of the numpy harness
(numeric/harness.py), with the master weights x and the parameter tensors p:

    g = Q_G(p.grad)                       (p holds Q_W(x): the gradient is taken at the quantized weights)
    x <- x - delta                         (delta from g and the stored states m = Q_M(.), v = Q_V(.))
    p <- Q_W(x)                            (master="fp64": x is kept in the parameter's dtype in state["master"];
                                            master="stored": there is no copy, p <- Q_W(p - delta))

With W unquantized, x is p itself. States (m, v, momentum, master) are stored in the parameter's dtype
after rounding, so every plan format must fit inside that dtype (checked when the first step meets the
parameter; e.g. bf16/fp8 inside float32). Every rounding is :func:`qbound.numeric.pytorch.quantize`,
bit-identical to the numpy kernel; ``seed`` seeds one numpy Generator per component (W, G, M, V and U,
spawned from ``numpy.random.SeedSequence(seed)``) for stochastic rounding, saved in ``state_dict``.

Two arithmetics (the ``arithmetic`` argument):

* ``"qbound"``: the operation order of :mod:`qbound.numeric.optimizers`, written with foreach
  operations; with ``update=FMT`` in the plan every elementary result is rounded to FMT. In float64 a
  run equals the numpy harness bit for bit (deterministic modes; tests/numeric/test_pytorch_optim.py).
  The only arithmetic of :class:`QAdam` (paper form), :class:`QMuon` and :class:`QSGDM`.
* ``"torch"`` (the default of :class:`QAdamTorch` and :class:`QAdamW`): the foreach operations of
  ``torch.optim.Adam``/``AdamW`` (lerp, addcmul, addcdiv; decoupled decay as p * (1 - lr wd)), with
  Q_M after the first-moment update and Q_V after the second. With an empty plan it equals
  ``torch.optim.AdamW`` bit for bit (float32 and float64). ``update=`` needs "qbound".

Muon (:class:`QMuon`) orthogonalizes parameters with ndim >= 2 (reshaped to (shape[0], -1)) by the
exact polar factor (``polar="svd"``) or 5 Newton-Schulz quintic steps (``polar="ns"``, coefficients
(3.4445, -4.7750, 2.0315), optionally rounded to ``ns_quant``); ``linalg="numpy"`` (the default for
CPU tensors) computes that factor with numeric.optimizers' own numpy code so it matches the harness
bit for bit, ``"torch"`` with torch.linalg / matmul (any device). Other parameters use Adam.

Diagnostics (``diagnostics=True``; :meth:`QuantizedOptimizer.diagnostics`), the quantities of the numpy
harness: per component W, G, M, V, U the overflow (finite input beyond the largest finite value),
NaN (NaN outputs) and underflow (non-zero inputs rounded to zero) counts; the lost-update fraction
(coordinates whose stored master value did not change although delta != 0); and for V, among
coordinates whose previous stored v is normal, updates, lost updates, decrease opportunities (the exact
new v is smaller), decreases (the stored v got smaller), and the number of coordinates that had a
decrease opportunity and never decreased.

>>> import torch
>>> from qbound.numeric.pytorch import QAdamW
>>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0, 3.0]))
>>> opt = QAdamW([w], lr=0.1, quant="M=fp8_e4m3fn,V=bf16", diagnostics=True)
>>> w.grad = torch.tensor([0.5, 0.25, -1.0]); opt.step()
>>> opt.diagnostics()["counts"]["V"]
{'overflow': 0, 'nan': 0, 'underflow': 0}
>>> str(opt.plan)
'M=fp8_e4m3fn,V=bf16'
"""
from __future__ import annotations

import math

import numpy as np

from qbound.numeric.errors import InputError, check_choice
from qbound.numeric.pytorch._torch import require_torch, strip_examples_without_torch, torch
from qbound.numeric.pytorch.rounding import quantize, result_dtype
from qbound.numeric.quantplan import COMPONENTS, COUNT_KINDS, CompQuant, QuantPlan
from qbound.numeric.rounding import quantize as np_quantize

__doc__ = strip_examples_without_torch(__doc__)

ARITHMETICS = ("qbound", "torch")
SCHEDULES = ("constant", "inv_sqrt")
DIAG_COMPONENTS = COMPONENTS + ("U",)

_Base = torch.optim.Optimizer if torch is not None else object


class _Quantizers:
    """Plan + per-component numpy Generators + on-device counters (only when counting)."""

    def __init__(self, plan: QuantPlan, seed: int, overflow: str, count: bool):
        self.plan = plan
        self.overflow = overflow
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
        children = ss.spawn(5)
        self.rngs = {k: np.random.default_rng(s) for k, s in zip(DIAG_COMPONENTS, children)}
        self.u = CompQuant(plan.update_format) if plan.update_format is not None else None
        self.count = count
        self.counts = {c: {k: 0 for k in COUNT_KINDS} for c in DIAG_COMPONENTS}

    def cq(self, comp):
        return self.u if comp == "U" else self.plan[comp]

    def __call__(self, comp, x, cq=None, count_as=None, out=None):
        cq = cq if cq is not None else self.cq(comp)
        if cq is None:
            return x
        count_as = count_as or comp
        rng = self.rngs[count_as] if cq.rounding == "sr" else None
        if self.count and out is not None and out.data_ptr() == x.data_ptr():
            out = None  # counting compares input and output: no rounding in place
        out = quantize(x, cq.fmt, cq.rounding, rng=rng, sr_bits=cq.sr_bits, overflow=self.overflow, out_dtype=x.dtype,
                       out=out)
        if self.count:
            self._count(count_as, cq, x, out)
        return out

    def _count(self, comp, cq, x, out):
        c = self.counts[comp]
        ax = x.abs()
        c["overflow"] = c["overflow"] + ((ax > float(cq.fmt.max_finite)) & ~ax.isinf()).sum()
        c["nan"] = c["nan"] + out.isnan().sum()
        c["underflow"] = c["underflow"] + ((out == 0) & (x != 0)).sum()

    def scalar(self, a: float) -> float:
        """U applied to a Python float (identity without update format)."""
        if self.u is None:
            return a
        return float(np_quantize(a, self.u.fmt, self.u.rounding, rng=self.rngs["U"] if self.u.rounding == "sr" else None,
                                 sr_bits=self.u.sr_bits, overflow=self.overflow))

    def np_round(self, cq):
        """A numpy rounding function (for the numpy Newton-Schulz path), counted under U."""
        def rnd(a):
            out = np_quantize(a, cq.fmt, cq.rounding, rng=self.rngs["U"] if cq.rounding == "sr" else None,
                              sr_bits=cq.sr_bits, overflow=self.overflow)
            if self.count:
                t = require_torch()
                self._count("U", cq, t.from_numpy(np.asarray(a)), t.from_numpy(np.asarray(out)))
            return out
        return rnd


class QuantizedOptimizer(_Base):
    """Base class: plan handling, master weights, Q_G / Q_W, diagnostics, state_dict of the streams.

    Subclasses implement ``_update(group, xs, gs, states, ts)``, which updates the master weights ``xs``
    in place from the stored gradients ``gs`` and returns, when diagnostics are on, the masks
    "delta != 0" per parameter (else None).
    """

    arithmetics: tuple = ("qbound",)

    def __init__(self, params, defaults: dict, quant=None, *, seed: int = 0, diagnostics: bool = False,
                 overflow: str = "ieee", arithmetic: str | None = None, schedule: str = "constant"):
        require_torch()
        self.plan = QuantPlan.parse(quant) if not isinstance(quant, QuantPlan) else quant
        arithmetic = arithmetic or self.arithmetics[0]
        check_choice(arithmetic, self.arithmetics, what="arithmetic")
        check_choice(schedule, SCHEDULES, what="schedule")
        if arithmetic == "torch" and self.plan.update_format is not None:
            raise InputError(f"update={self.plan.update_format.name} rounds every operation of the qbound arithmetic; "
                             "pass arithmetic='qbound' (the torch arithmetic fuses operations)")
        self.arithmetic = arithmetic
        self.schedule = schedule
        self.seed = seed if isinstance(seed, np.random.SeedSequence) else int(seed)
        self.qz = _Quantizers(self.plan, seed, overflow, bool(diagnostics))
        self.diag_on = bool(diagnostics)
        self._diag = {"steps": 0, "coords": 0, "lost": 0, "last_lost_frac": None,
                      "v": {k: 0 for k in ("updates", "lost", "decrease_opportunities", "decreases")}}
        super().__init__(params, defaults)
        self._init_weights()

    # ------------------------------------------------------------------ weights
    def _init_weights(self):
        """Q_W on the initial weights: the first forward pass sees Q_W(x_0), as in the harness."""
        if self.plan.W is None:
            return
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    self._check_fits(p)
                    st = self.state[p]
                    if self.plan.master == "fp64":
                        if "master" not in st:
                            st["master"] = p.detach().clone(memory_format=torch.preserve_format)
                            p.copy_(self.qz("W", st["master"]))
                    elif not st.get("w_stored"):
                        p.copy_(self.qz("W", p.detach()))
                        st["w_stored"] = True
            self._reset_counts()

    def _check_fits(self, p):
        for c in COMPONENTS:
            cq = self.plan[c]
            if cq is not None and result_dtype(cq.fmt, p.dtype) != p.dtype:
                raise InputError(f"{c}={cq.fmt.name} does not fit inside the parameters' dtype {p.dtype} (its values "
                                 f"would be rounded again when stored); use float64 parameters or a smaller format")
        if self.plan.update_format is not None and result_dtype(self.plan.update_format, p.dtype) != p.dtype:
            raise InputError(f"update={self.plan.update_format.name} does not fit inside {p.dtype}")

    def master_weights(self) -> list:
        """The master weights x (state["master"] with master=fp64 and W quantized, else the parameters)."""
        return [self.state[p]["master"] if "master" in self.state[p] else p
                for g in self.param_groups for p in g["params"]]

    def lr_at(self, group, t: int, key: str = "lr") -> float:
        lr = float(group[key])
        return lr if self.schedule == "constant" else lr / math.sqrt(t)

    # ------------------------------------------------------------------ helpers for subclasses
    def U(self, xs):
        """Round a list of tensors to the update format (identity without one)."""
        if self.qz.u is None:
            return xs
        return [self.qz("U", x) for x in xs]

    def Q(self, comp, xs, dsts=None):
        """Q_comp on a list; with ``dsts`` the results are written into those tensors."""
        if self.plan[comp] is None:
            if dsts is not None:
                for d, x in zip(dsts, xs):
                    if d is not x:
                        d.copy_(x)
                return dsts
            return xs
        if dsts is not None:
            for d, x in zip(dsts, xs):
                o = self.qz(comp, x, out=d)
                if o is not d:
                    d.copy_(o)
            return dsts
        return [self.qz(comp, x) for x in xs]

    def _store_v(self, states, vs_old, v_pre, key="v"):
        """v <- Q_V(v_pre) into the states, with the V bookkeeping of the diagnostics (which compares
        the previous v ``vs_old`` -- possibly the state tensors themselves -- before anything is written)."""
        dst = [st[key] for st in states]
        if self.diag_on and self.plan.V is not None:
            new = self.Q("V", v_pre)
            tiny = float(self.plan.V.fmt.min_normal)
            D = self._diag["v"]
            for st, prev, pre, cur in zip(states, vs_old, v_pre, new):
                ok = prev >= tiny
                upd = ok & (pre != prev)
                opp = ok & (pre < prev)
                dec = ok & (cur < prev)
                D["updates"] = D["updates"] + upd.sum()
                D["lost"] = D["lost"] + (upd & (cur == prev)).sum()
                D["decrease_opportunities"] = D["decrease_opportunities"] + opp.sum()
                D["decreases"] = D["decreases"] + dec.sum()
                if "v_had_opp" not in st:
                    st["v_had_opp"] = torch.zeros_like(cur, dtype=torch.bool)
                    st["v_decreased"] = torch.zeros_like(cur, dtype=torch.bool)
                st["v_had_opp"] |= opp
                st["v_decreased"] |= dec
            for d, o in zip(dst, new):
                d.copy_(o)
            return dst
        return self.Q("V", v_pre, dst)

    # ------------------------------------------------------------------ the step
    @torch.no_grad() if torch is not None else (lambda f: f)
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = []
            for p in params:
                st = self.state[p]
                if "step" not in st:
                    self._check_fits(p)
                    st["step"] = torch.tensor(0.0, dtype=torch.float32)
                    self._init_state(p, st, group)
                st["step"] += 1
                states.append(st)
            ts = [int(st["step"].item()) for st in states]
            gs = [self.qz("G", p.grad.detach()) for p in params]
            fp64_master = self.plan.W is not None and self.plan.master == "fp64"
            xs = [st["master"] for st in states] if fp64_master else list(params)
            x_old = [x.clone() for x in xs] if self.diag_on else None
            nz = self._update(group, xs, gs, states, ts)
            if self.plan.W is not None:
                if fp64_master:
                    for p, x in zip(params, xs):
                        q = self.qz("W", x, out=p.data)
                        if q is not p.data:
                            p.copy_(q)
                else:
                    for x in xs:
                        x.copy_(self.qz("W", x))
            if self.diag_on:
                lost = sum(((x == xo) & m).sum() for x, xo, m in zip(xs, x_old, nz))
                n = sum(x.numel() for x in xs)
                self._diag["lost"] = self._diag["lost"] + lost
                self._diag["coords"] += n
                self._diag["last_lost_frac"] = (lost, n)
        if self.diag_on:
            self._diag["steps"] += 1
        return loss

    def _init_state(self, p, st, group):
        raise NotImplementedError

    def _update(self, group, xs, gs, states, ts):
        raise NotImplementedError

    # ------------------------------------------------------------------ diagnostics
    def _reset_counts(self):
        self.qz.counts = {c: {k: 0 for k in COUNT_KINDS} for c in DIAG_COMPONENTS}

    def diagnostics(self) -> dict:
        """Totals since construction (or the last :meth:`reset_diagnostics`); needs diagnostics=True."""
        if not self.diag_on:
            raise InputError("diagnostics are recorded only when the optimizer is built with diagnostics=True")
        d = self._diag
        last = d["last_lost_frac"]
        v = {k: int(val) for k, val in d["v"].items()}
        v["lost_frac"] = v["lost"] / v["updates"] if v["updates"] else None
        never = 0
        had = 0
        for st in self.state.values():
            if "v_had_opp" in st:
                had += int(st["v_had_opp"].sum())
                never += int((st["v_had_opp"] & ~st["v_decreased"]).sum())
        v["coords_with_decrease_opportunity"] = had
        v["never_decreased_coords"] = never
        return {
            "plan": str(self.plan),
            "steps": d["steps"],
            "lost_update_frac": (int(last[0]) / last[1]) if last and last[1] else None,
            "mean_lost_update_frac": (int(d["lost"]) / d["coords"]) if d["coords"] else None,
            "counts": {c: {k: int(val) for k, val in kinds.items()} for c, kinds in self.qz.counts.items()},
            "v": v if self.plan.V is not None else None,
        }

    def reset_diagnostics(self):
        self._reset_counts()
        self._diag = {"steps": 0, "coords": 0, "lost": 0, "last_lost_frac": None,
                      "v": {k: 0 for k in ("updates", "lost", "decrease_opportunities", "decreases")}}

    # ------------------------------------------------------------------ state_dict
    def state_dict(self):
        sd = super().state_dict()
        sd["qbound"] = {"plan": str(self.plan), "arithmetic": self.arithmetic, "schedule": self.schedule,
                        "rngs": {k: r.bit_generator.state for k, r in self.qz.rngs.items()}}
        return sd

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        extra = state_dict.pop("qbound", None)
        super().load_state_dict(state_dict)
        if extra is not None:
            if extra["plan"] != str(self.plan):
                raise InputError(f"state_dict was saved with plan {extra['plan']!r}, this optimizer has {str(self.plan)!r}")
            for k, s in extra["rngs"].items():
                self.qz.rngs[k].bit_generator.state = s


def _adam_betas(betas):
    b1, b2 = (float(b) for b in betas)
    if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
        raise InputError(f"betas must be in [0, 1), got {betas}")
    return b1, b2


def _check_positive(name, v, strict=True):
    v = float(v)
    if not (v > 0 if strict else v >= 0):
        raise InputError(f"{name} must be {'> 0' if strict else '>= 0'}, got {v}")
    return v


class _AdamBase(QuantizedOptimizer):
    def _init_state(self, p, st, group):
        st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def _nonzero(self, deltas):
        return [d != 0 for d in deltas] if self.diag_on else None

    def _apply(self, xs, deltas):
        """x <- U(x - delta) in place; returns the delta != 0 masks for the diagnostics."""
        new = self.U(torch._foreach_sub(xs, deltas))
        for x, n in zip(xs, new):
            x.copy_(n)
        return self._nonzero(deltas)


def _sqrt(xs):
    """Correctly rounded square roots of a list (IEEE 754 sqrt, as numpy's).

    torch's vectorized CPU sqrt (SLEEF, 0.5001 ulp) is not always correctly rounded in float64, so CPU
    tensors go through numpy (zero-copy views); CUDA's sqrt is IEEE-correct and runs as is.
    """
    out = []
    for x in xs:
        if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
            out.append(torch.from_numpy(np.sqrt(x.detach().contiguous().numpy())))
        else:
            out.append(torch.sqrt(x))
    return out


def _paper_step(opt, xs, gs, ms_st, vs_st, states, ts, lr_list, b1, b2, eps):
    """The paper's Adam (Defossez et al.) on lists: see numeric.optimizers (``adam``)."""
    U, S = opt.U, opt.qz.scalar
    m_pre = U(torch._foreach_add(U(torch._foreach_mul(ms_st, b1)), gs))
    ms = opt.Q("M", m_pre, ms_st)
    vs_old = vs_st  # still the previous v: _store_v compares before it writes
    v_pre = U(torch._foreach_add(U(torch._foreach_mul(vs_st, b2)), U(torch._foreach_mul(gs, gs))))
    vs = opt._store_v(states, vs_old, v_pre, "exp_avg_sq")
    alphas = [S(lr * (1.0 - b1) * math.sqrt((1.0 - b2 ** t) / (1.0 - b2))) for lr, t in zip(lr_list, ts)]
    den = U(_sqrt(U(torch._foreach_add(vs, eps))))
    return U(torch._foreach_div(U(torch._foreach_mul(ms, alphas)), den))


def _torchform_step(opt, xs, gs, ms_st, vs_st, states, ts, lr_list, b1, b2, eps):
    """torch.optim.Adam's single-tensor arithmetic as numeric.optimizers writes it (``adam-torch``)."""
    U, S = opt.U, opt.qz.scalar
    m_pre = U(torch._foreach_add(ms_st, U(torch._foreach_mul(U(torch._foreach_sub(gs, ms_st)), S(1.0 - b1)))))
    ms = opt.Q("M", m_pre, ms_st)
    vs_old = vs_st  # still the previous v: _store_v compares before it writes
    v_pre = U(torch._foreach_add(U(torch._foreach_mul(vs_st, b2)),
                                 U(torch._foreach_mul(U(torch._foreach_mul(gs, S(1.0 - b2))), gs))))
    vs = opt._store_v(states, vs_old, v_pre, "exp_avg_sq")
    step_size = [S(lr / (1.0 - b1 ** t)) for lr, t in zip(lr_list, ts)]
    bc2 = [math.sqrt(1.0 - b2 ** t) for t in ts]
    den = U(torch._foreach_add(U(torch._foreach_div(U(_sqrt(vs)), bc2)), eps))
    return U(torch._foreach_mul(U(torch._foreach_div(ms, den)), step_size))


class QAdam(_AdamBase):
    """Adam in the paper's form (Defossez et al.; ``adam`` in numeric.optimizers)::

        m_t = Q_M(beta1 m + g)     v_t = Q_V(beta2 v + g^2)
        delta = alpha_t m_t / sqrt(eps + v_t),   alpha_t = lr (1 - beta1) sqrt((1 - beta2^t) / (1 - beta2))
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, *, quant=None, **kw):
        defaults = {"lr": _check_positive("lr", lr), "betas": _adam_betas(betas), "eps": _check_positive("eps", eps, False)}
        super().__init__(params, defaults, quant, **kw)

    def _update(self, group, xs, gs, states, ts):
        b1, b2 = group["betas"]
        lrs = [self.lr_at(group, t) for t in ts]
        deltas = _paper_step(self, xs, gs, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                             states, ts, lrs, b1, b2, group["eps"])
        return self._apply(xs, deltas)


class QAdamTorch(_AdamBase):
    """``torch.optim.Adam`` (L2 weight decay g <- g + wd x) with quantized states; ``adam-torch``."""

    arithmetics = ("torch", "qbound")
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, quant=None, **kw):
        defaults = {"lr": _check_positive("lr", lr), "betas": _adam_betas(betas), "eps": _check_positive("eps", eps, False),
                    "weight_decay": _check_positive("weight_decay", weight_decay, False)}
        super().__init__(params, defaults, quant, **kw)

    def _update(self, group, xs, gs, states, ts):
        b1, b2 = group["betas"]
        eps, wd = group["eps"], group["weight_decay"]
        lrs = [self.lr_at(group, t) for t in ts]
        ms_st = [s["exp_avg"] for s in states]
        vs_st = [s["exp_avg_sq"] for s in states]
        if self.arithmetic == "torch":
            return self._torch_update(xs, gs, ms_st, vs_st, states, ts, lrs, b1, b2, eps, wd)
        U, S = self.U, self.qz.scalar
        if wd and not self.decoupled:
            gs = U(torch._foreach_add(gs, U(torch._foreach_mul(xs, wd))))
        deltas = _torchform_step(self, xs, gs, ms_st, vs_st, states, ts, lrs, b1, b2, eps)
        if wd and self.decoupled:
            deltas = U(torch._foreach_add(U(torch._foreach_mul(xs, [S(lr * wd) for lr in lrs])), deltas))
        return self._apply(xs, deltas)

    def _torch_update(self, xs, gs, ms, vs, states, ts, lrs, b1, b2, eps, wd):
        """The operations of torch.optim.adam._multi_tensor_adam (no amsgrad, not capturable)."""
        old = [x.clone() for x in xs] if self.diag_on else None
        if wd != 0:
            if self.decoupled:
                if len(set(lrs)) == 1:
                    torch._foreach_mul_(xs, 1 - lrs[0] * wd)
                else:
                    torch._foreach_mul_(xs, [1 - lr * wd for lr in lrs])
            else:
                gs = torch._foreach_add(gs, xs, alpha=wd)
        # quantized states: the same operations out of place, rounded straight into the state tensors
        # (the out-of-place foreach ops compute exactly what the in-place ones do)
        if self.plan.M is None:
            torch._foreach_lerp_(ms, gs, 1 - b1)
        else:
            self.Q("M", torch._foreach_lerp(ms, gs, 1 - b1), ms)
        if self.plan.V is None:
            torch._foreach_mul_(vs, b2)
            torch._foreach_addcmul_(vs, gs, gs, 1 - b2)
        else:
            v_pre = torch._foreach_mul(vs, b2)
            torch._foreach_addcmul_(v_pre, gs, gs, 1 - b2)
            self._store_v(states, vs, v_pre, "exp_avg_sq")
        bias_correction1 = [1 - b1 ** t for t in ts]
        bias_correction2 = [1 - b2 ** t for t in ts]
        step_size = [(lr / bc) * -1 for lr, bc in zip(lrs, bias_correction1)]
        bias_correction2_sqrt = [bc ** 0.5 for bc in bias_correction2]
        den = torch._foreach_sqrt(vs)
        torch._foreach_div_(den, bias_correction2_sqrt)
        torch._foreach_add_(den, eps)
        torch._foreach_addcdiv_(xs, ms, den, step_size)
        if not self.diag_on:
            return None
        return [(m != 0) | ((o != 0) if (wd and self.decoupled) else False) for m, o in zip(ms, old)]


class QAdamW(QAdamTorch):
    """``torch.optim.AdamW`` (decoupled decay, wd = 0.01 by default) with quantized states; ``adamw``.

    Drop-in for ``torch.optim.AdamW(params, lr, betas, eps, weight_decay)`` plus ``quant=``.
    """

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, *, quant=None, **kw):
        super().__init__(params, lr, betas, eps, weight_decay, quant=quant, **kw)


class QSGDM(QuantizedOptimizer):
    """SGD with momentum (dampening 0): g <- g + wd x; b = Q_M(mu b + g); delta = lr (g + mu b) if nesterov
    else lr b (``sgdm``)."""

    def __init__(self, params, lr=1e-2, momentum=0.9, nesterov=False, weight_decay=0.0, *, quant=None, **kw):
        if not (0.0 <= float(momentum) < 1.0):
            raise InputError(f"momentum must be in [0, 1), got {momentum}")
        defaults = {"lr": _check_positive("lr", lr), "momentum": float(momentum), "nesterov": bool(nesterov),
                    "weight_decay": _check_positive("weight_decay", weight_decay, False)}
        super().__init__(params, defaults, quant, **kw)

    def _init_state(self, p, st, group):
        st["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def _update(self, group, xs, gs, states, ts):
        U = self.U
        mu, wd = group["momentum"], group["weight_decay"]
        if wd:
            gs = U(torch._foreach_add(gs, U(torch._foreach_mul(xs, wd))))
        bs_st = [s["momentum_buffer"] for s in states]
        bs = self.Q("M", U(torch._foreach_add(U(torch._foreach_mul(bs_st, mu)), gs)), bs_st)
        dvec = U(torch._foreach_add(gs, U(torch._foreach_mul(bs, mu)))) if group["nesterov"] else bs
        deltas = U(torch._foreach_mul(dvec, [self.lr_at(group, t) for t in ts]))
        new = U(torch._foreach_sub(xs, deltas))
        for x, n in zip(xs, new):
            x.copy_(n)
        return [d != 0 for d in deltas] if self.diag_on else None


NS_COEFFS = (3.4445, -4.7750, 2.0315)


def newton_schulz_torch(N, steps: int = 5, coeffs=NS_COEFFS, rnd=None):
    """Newton-Schulz quintic of numeric.optimizers.newton_schulz, in torch (any device)."""
    r = rnd if rnd is not None else (lambda x: x)
    a, b, c = coeffs
    X = r(N / (torch.linalg.norm(N) + 1e-7))
    tr = X.shape[0] > X.shape[1]
    if tr:
        X = X.T
    for _ in range(int(steps)):
        A = r(X @ X.T)
        B = r(r(b * A) + r(c * r(A @ A)))
        X = r(r(a * X) + r(B @ X))
    return X.T if tr else X


def polar_torch(N):
    """Exact polar factor U V^T (thin SVD), dropping singular values <= max(m, n) eps s_max."""
    if not bool(N.any()):
        return torch.zeros_like(N)
    Uu, s, Vh = torch.linalg.svd(N, full_matrices=False)
    keep = s > max(N.shape) * torch.finfo(N.dtype).eps * s[0]
    return Uu[:, keep] @ Vh[keep]


class QMuon(QuantizedOptimizer):
    """Muon (``muon`` in numeric.optimizers; the same hyperparameter names) with quantized momentum.

    Matrices: M = Q_M(beta M + G) (momentum="sum") or Q_M(beta M + (1 - beta) G) ("ema"), N = M or the
    Nesterov combination, delta = lr s polar(N); other parameters: Adam (``adam="adam"`` paper form or
    ``"adam-torch"``) with adam_lr, adam_beta1, adam_beta2, adam_eps, and so do all parameters of a
    param group with ``adam_only=True`` (practitioners' setting for embeddings and output heads).
    """

    CHOICES = {"momentum": ("sum", "ema"), "polar": ("svd", "ns"), "scale": ("none", "jordan", "moonshot"),
               "adam": ("adam", "adam-torch"), "linalg": ("auto", "numpy", "torch")}

    def __init__(self, params, lr=0.02, beta=0.95, momentum="sum", nesterov=False, polar="svd", scale="none",
                 ns_steps=5, ns_quant=None, adam="adam", adam_lr=1e-3, adam_beta1=0.9, adam_beta2=0.999,
                 adam_eps=1e-8, linalg="auto", *, quant=None, **kw):
        for k, v in (("momentum", momentum), ("polar", polar), ("scale", scale), ("adam", adam), ("linalg", linalg)):
            check_choice(v, self.CHOICES[k], what=f"muon {k}")
        if not (0.0 <= float(beta) < 1.0):
            raise InputError(f"beta must be in [0, 1), got {beta}")
        nsq = None if ns_quant in (None, "", "none", "None") else CompQuant.parse(str(ns_quant))
        defaults = {"lr": _check_positive("lr", lr), "beta": float(beta), "momentum": momentum, "nesterov": bool(nesterov),
                    "polar": polar, "scale": scale, "ns_steps": int(ns_steps), "ns_quant": str(nsq) if nsq else None,
                    "adam": adam, "adam_lr": _check_positive("adam_lr", adam_lr),
                    "adam_betas": _adam_betas((adam_beta1, adam_beta2)), "adam_eps": float(adam_eps), "linalg": linalg}
        self._nsq = nsq
        super().__init__(params, defaults, quant, **kw)

    def _init_state(self, p, st, group):
        if p.ndim >= 2 and not group.get("adam_only", False):
            st["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        else:
            st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def _direction(self, group, N):
        shape = N.shape
        N2 = N.reshape(shape[0], -1)
        linalg = group["linalg"]
        if linalg == "auto":
            linalg = "numpy" if (N.device.type == "cpu" and N.dtype == torch.float64) else "torch"
        nsq = self._nsq
        if group["polar"] == "svd":
            if linalg == "numpy":
                from qbound.numeric.optimizers import polar_svd
                O = torch.from_numpy(polar_svd(N2.numpy())).to(N.dtype)
            else:
                O = polar_torch(N2)
        else:
            if linalg == "numpy":
                from qbound.numeric.optimizers import newton_schulz
                rnd = self.qz.np_round(nsq) if nsq is not None else (self.qz.np_round(self.qz.u) if self.qz.u else None)
                O = torch.from_numpy(newton_schulz(N2.double().numpy(), group["ns_steps"], rnd=rnd)).to(N.dtype)
            else:
                cq = nsq if nsq is not None else self.qz.u
                rnd = (lambda x: self.qz("U", x, cq=cq)) if cq is not None else None
                O = newton_schulz_torch(N2, group["ns_steps"], rnd=rnd)
        rows, cols = N2.shape
        if group["scale"] == "jordan":
            O = O * math.sqrt(max(1.0, rows / cols))
        elif group["scale"] == "moonshot":
            O = O * (0.2 * math.sqrt(max(rows, cols)))
        return O.reshape(shape)

    def _update(self, group, xs, gs, states, ts):
        U = self.U
        beta = group["beta"]
        adam_only = bool(group.get("adam_only", False))
        mat = [i for i, x in enumerate(xs) if x.ndim >= 2 and not adam_only]
        vec = [i for i, x in enumerate(xs) if x.ndim < 2 or adam_only]
        deltas = [None] * len(xs)
        if vec:
            b1, b2 = group["adam_betas"]
            step = _paper_step if group["adam"] == "adam" else _torchform_step
            vst = [states[i] for i in vec]
            d = step(self, [xs[i] for i in vec], [gs[i] for i in vec], [s["exp_avg"] for s in vst],
                     [s["exp_avg_sq"] for s in vst], vst, [ts[i] for i in vec],
                     [self.lr_at(group, ts[i], "adam_lr") for i in vec], b1, b2, group["adam_eps"])
            for i, di in zip(vec, d):
                deltas[i] = di
        if mat:
            g_m = [gs[i] for i in mat]
            gg = g_m if group["momentum"] == "sum" else U(torch._foreach_mul(g_m, 1.0 - beta))
            m_st = [states[i]["momentum_buffer"] for i in mat]
            ms = self.Q("M", U(torch._foreach_add(U(torch._foreach_mul(m_st, beta)), gg)), m_st)
            Ns = U(torch._foreach_add(gg, U(torch._foreach_mul(ms, beta)))) if group["nesterov"] else ms
            for i, N in zip(mat, Ns):
                deltas[i] = U([self._direction(group, N) * self.lr_at(group, ts[i])])[0]
        new = U(torch._foreach_sub(xs, deltas))
        for x, n in zip(xs, new):
            x.copy_(n)
        return [d != 0 for d in deltas] if self.diag_on else None


TORCH_OPTIMIZERS = {"adam": QAdam, "adam-torch": QAdamTorch, "adamw": QAdamW, "muon": QMuon, "sgdm": QSGDM}

# numeric.optimizers' hyperparameter names -> the torch constructors' names
_RENAME = {"momentum_coef": "momentum"}


def make_torch_optimizer(name: str, params, quant=None, **hparams):
    """Build a quantized torch optimizer by the names of :func:`qbound.numeric.make_optimizer`.

    Hyperparameters use numeric.optimizers' spelling (``beta1``/``beta2`` become ``betas``,
    ``momentum_coef`` becomes SGD's ``momentum``); ``schedule``, ``seed``, ``diagnostics``,
    ``arithmetic`` and ``overflow`` are passed through.
    """
    key = str(name).strip().lower().replace("_", "-")
    check_choice(key, TORCH_OPTIMIZERS, what="optimizer")
    hp = dict(hparams)
    if key in ("adam", "adam-torch", "adamw") and ("beta1" in hp or "beta2" in hp):
        hp["betas"] = (float(hp.pop("beta1", 0.9)), float(hp.pop("beta2", 0.999)))
    for a, b in _RENAME.items():
        if a in hp:
            hp[b] = hp.pop(a)
    cls = TORCH_OPTIMIZERS[key]
    try:
        return cls(params, quant=quant, **hp)
    except TypeError as exc:
        raise InputError(f"optimizer {key}: {exc}") from None


__all__ = ["QuantizedOptimizer", "QAdam", "QAdamTorch", "QAdamW", "QMuon", "QSGDM", "TORCH_OPTIMIZERS",
           "make_torch_optimizer", "newton_schulz_torch", "polar_torch", "ARITHMETICS"]
