"""Exhaustive engine: evaluate the claim at every value (pair, triple) of the variable format.

Complete for formats of at most 8 bits (up to three variables) and for one variable of a 16-bit
format. Evaluation is vectorised float64 with *exactness tracking*: every node reports whether its
float64 value equals the exact real value (error-free transformations: TwoSum, Dekker's TwoProd,
``q*b == a`` for quotients, ``s*s == a`` for square roots). ``rnd`` of an exact value is
``numeric.rounding.quantize`` (the rounding oracle); ``rnd`` of a correctly rounded float64 value
of an inexact single operation is still exact unless that float64 value lies on a rounding boundary
of the target format (a midpoint for nearest modes, a grid point for directed modes), because
rounding to float64 is monotone and every boundary is a float64 number. Comparisons are decided in
float64 only when both sides are exact. Every element where exactness cannot be shown is re-evaluated
by the exact rational evaluator (:mod:`proofs.exact`).
"""
from __future__ import annotations

import time
from fractions import Fraction

import numpy as np

from qbound.numeric.rounding import quantize

from qbound.proofs.exact import Undecided, choices_for, claim_rnd_nodes, holds_at
from qbound.proofs.verdict import Verdict
from qbound.proofs.engines.base import Engine, Unsupported, counterexample_record

MAX_CASES = 1 << 25        # assignments enumerated at most
MAX_FALLBACK = 200_000     # elements re-evaluated exactly at most
CHUNK = 1 << 20
_SPLIT = 134217729.0       # 2^27 + 1
_TINY_OK = 2.0 ** -900


def exact_input(x) -> object:
    """A value of an enumerated variable for the exact evaluator: a Fraction, or the float +-0.0 for
    a zero, so that the pattern -0 keeps its sign (x/(-0) = -inf).

    >>> exact_input(np.float64(-0.0)), exact_input(np.float64(0.5))
    (-0.0, Fraction(1, 2))
    """
    x = float(x)
    return x if x == 0.0 else Fraction(x)


def values_of(fmt, domain=None) -> np.ndarray:
    """Every finite value of ``fmt`` once per bit pattern (so -0.0 is included); with
    ``domain="significands"`` the values with |x| in [1, 2) (2^p of them, any format up to 32 bits).

    >>> from qbound.numeric.formats import get_format
    >>> len(values_of(get_format("fp8_e4m3fn"))), len(values_of(get_format("bf16"), "significands"))
    (254, 256)
    """
    if domain == "significands":
        if fmt.man_bits > 23:
            raise Unsupported(f"{fmt.name}: {2 << fmt.man_bits} significands are too many to enumerate")
        pos = 1.0 + np.arange(1 << fmt.man_bits, dtype=np.float64) / (1 << fmt.man_bits)
        return np.concatenate([pos, -pos])
    if fmt.total_bits > 16:
        raise Unsupported(f"{fmt.name} has {fmt.total_bits} bits; exhaustive enumeration needs <= 16")
    _, vals = fmt.all_patterns_values()
    return vals[np.isfinite(vals)]


def _two_sum_exact(a, b, s):
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return err == 0


def _split(a):
    c = _SPLIT * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod_err(a, b, p):
    ah, al = _split(a)
    bh, bl = _split(b)
    return al * bl - (((p - ah * bh) - al * bh) - ah * bl)


class _Eval:
    """Vectorised evaluation of one chunk; ``unsure`` collects elements needing exact fallback."""

    def __init__(self, fmt, rounding, env, choice, n):
        self.fmt, self.rounding, self.env, self.choice = fmt, rounding, env, choice
        self.unsure = np.zeros(n, dtype=bool)
        self.n = n

    def num(self, node):
        """Returns (val, exact, cr): cr = val is the correctly rounded float64 of the exact value."""
        k = node.kind
        n = self.n
        if k == "num":
            v = node.value
            fv = float(v) if abs(v) < 2 ** 1000 else (np.inf if v > 0 else -np.inf)
            ex = Fraction(fv) == v if np.isfinite(fv) else False
            return np.full(n, fv), np.full(n, ex), np.full(n, ex)
        if k == "var":
            return self.env[node.value], np.ones(n, bool), np.ones(n, bool)
        if k in ("add", "sub", "mul", "div"):
            (a, ea, _), (b, eb, _) = self.num(node.args[0]), self.num(node.args[1])
            fin = np.isfinite(a) & np.isfinite(b)
            with np.errstate(all="ignore"):
                if k == "add":
                    r = a + b
                    ok = _two_sum_exact(a, b, r)
                elif k == "sub":
                    r = a - b
                    ok = _two_sum_exact(a, -b, r)
                elif k == "mul":
                    r = a * b
                    ok = (_two_prod_err(a, b, r) == 0) & ((np.abs(r) >= _TINY_OK) | (a == 0) | (b == 0))
                else:
                    r = a / b
                    ok = (b != 0) & (r * b == a) & (_two_prod_err(r, b, r * b) == 0) & \
                        ((np.abs(r) >= _TINY_OK) | (a == 0))
                    ok |= (b == 0) & fin  # IEEE division by zero: inf/nan, defined
                ok = np.where(fin, ok & np.isfinite(r), True)
            inputs = ea & eb
            return r, inputs & ok, inputs
        if k == "neg":
            a, e, c = self.num(node.args[0])
            return -a, e, c
        if k == "pow":
            a, e, _ = self.num(node.args[0])
            p = node.value
            r, er = np.ones(n), np.ones(n, bool)
            with np.errstate(all="ignore"):
                for _ in range(abs(p)):
                    r2 = r * a
                    ok = (_two_prod_err(r, a, r2) == 0) & ((np.abs(r2) >= _TINY_OK) | (a == 0))
                    er &= np.where(np.isfinite(r) & np.isfinite(a), ok & np.isfinite(r2), True)
                    r = r2
                if p < 0:
                    q = 1.0 / r
                    ok = (r != 0) & (q * r == 1.0) & (_two_prod_err(q, r, q * r) == 0)
                    er &= np.where(np.isfinite(r) & (r != 0), ok, True)
                    r = q
            return r, e & er, e & er
        if k == "call":
            f = node.value
            if f in ("abs", "sqrt", "ulp", "rnd"):
                a, e, c = self.num(node.args[0])
                if f == "abs":
                    return np.abs(a), e, c
                if f == "sqrt":
                    with np.errstate(all="ignore"):
                        s = np.sqrt(a)
                        ok = (a < 0) | ~np.isfinite(a) | ((s * s == a) & (_two_prod_err(s, s, s * s) == 0) &
                                                         ((s >= _TINY_OK) | (a == 0)))
                    return s, e & ok, e
                if f == "ulp":
                    return self._ulp(a), e, e
                return self._rnd(node, a, e, c)
            (a, ea, _), (b, eb, _) = self.num(node.args[0]), self.num(node.args[1])
            r = np.minimum(a, b) if f == "min" else np.maximum(a, b)
            return r, ea & eb, ea & eb
        raise Unsupported(f"node {k}")

    def _ulp(self, a):
        fmt = self.fmt
        with np.errstate(all="ignore"):
            _, ex = np.frexp(np.abs(a))
            e = np.maximum(ex - 1, fmt.emin)
            out = np.ldexp(1.0, e - fmt.man_bits)
            out = np.where(a == 0, float(fmt.min_subnormal), out)
            return np.where(np.isfinite(a), out, np.nan)

    def _q(self, x, mode):
        with np.errstate(all="ignore"):
            return quantize(x, self.fmt, mode)

    def _rnd(self, node, a, e, c):
        mode = self.rounding
        if mode == "sr":
            away = self.choice.get(id(node), False)
            r = self._away(a) if away else self._q(a, "rtz")
        else:
            r = self._q(a, mode)
        inexact = ~e
        if np.any(inexact):
            idx = np.nonzero(inexact)[0]
            x = a[idx]
            rt = self._q(x, "rtz")
            if mode in ("rne", "rna"):
                aw = self._away(x)
                with np.errstate(all="ignore"):
                    mid = (rt + aw) / 2
                boundary = (rt != aw) & (x == mid)
            else:
                boundary = rt == x
            bad = ~c[idx] | boundary | ~np.isfinite(x)
            self.unsure[idx[bad]] = True
        return r, np.ones(self.n, bool), np.ones(self.n, bool)

    def _away(self, x):
        return np.where(x < 0, self._q(x, "rdn"), self._q(x, "rup"))

    def boolean(self, node):
        """(value, unsure) masks: three-valued, so a conjunct that is surely False (or a disjunct
        surely True) decides the connective even where another operand is unsure."""
        k = node.kind
        if k == "cmp":
            saved = self.unsure
            self.unsure = np.zeros(self.n, bool)
            vals = [self.num(a) for a in node.args]
            out = np.ones(self.n, bool)
            uns = self.unsure
            for op, (a, ea, _), (b, eb, _) in zip(node.value, vals, vals[1:]):
                uns = uns | ~(ea & eb)
                with np.errstate(invalid="ignore"):
                    out &= {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                            "==": np.equal, "!=": np.not_equal}[op](a, b)
            self.unsure = saved
            return out, uns
        if k in ("and", "or"):
            parts = [self.boolean(a) for a in node.args]
            if k == "and":
                val = np.logical_and.reduce([v for v, _ in parts])
                decided = np.logical_or.reduce([~v & ~u for v, u in parts])   # some surely False
            else:
                val = np.logical_or.reduce([v for v, _ in parts])
                decided = np.logical_or.reduce([v & ~u for v, u in parts])    # some surely True
            uns = np.logical_or.reduce([u for _, u in parts]) & ~decided
            return val, uns
        if k == "not":
            v, u = self.boolean(node.args[0])
            return ~v, u
        raise Unsupported(f"boolean node {k}")


class ExhaustiveEngine(Engine):
    """Enumerate every assignment; complete for small formats (see module docstring)."""

    name = "exhaustive"

    def version(self) -> str:
        return f"numpy {np.__version__}"

    def cases(self, claim) -> int:
        if not claim.vars:
            return 1
        vals = values_of(claim.var_fmt, claim.var_domain)
        return len(vals) ** len(claim.vars)

    def satisfiable(self, claim, timeout: float = 30.0):
        """Does some assignment satisfy every hypothesis (True/False/None when undecided)?"""
        from dataclasses import replace
        from qbound.proofs.claims import Node
        false = Node("cmp", (Node("num", value=Fraction(0)), Node("num", value=Fraction(1))), ("==",))
        try:
            v = self.decide(replace(claim, expr=false, report_expr=false), timeout=timeout)
        except Unsupported:
            return None
        return {"proved": False, "falsified": True}.get(v.status)

    def decide(self, claim, timeout: float = 30.0, smt2_dir=None) -> Verdict:
        t0 = time.perf_counter()
        nvars = len(claim.vars)
        vals = values_of(claim.var_fmt, claim.var_domain) if nvars else np.zeros(1)
        total = len(vals) ** nvars if nvars else 1
        if total > MAX_CASES:
            raise Unsupported(f"{total} assignments exceed the exhaustive limit {MAX_CASES}")
        nrnd = len(claim_rnd_nodes(claim))
        if claim.rounding == "sr" and nrnd > 6:
            raise Unsupported("more than 6 rnd() under sr (2^k outcome combinations)")
        choices = choices_for(claim)
        n_fallback = 0
        for start in range(0, total, CHUNK):
            if time.perf_counter() - t0 > timeout:
                return Verdict("unknown", self.name, self.version(), time.perf_counter() - t0,
                               reason=f"timeout after {timeout:g} s", details={"checked": start})
            stop = min(total, start + CHUNK)
            flat = np.arange(start, stop, dtype=np.int64)
            env = {}
            for i, name in enumerate(reversed(claim.vars)):
                env[name] = vals[(flat // (len(vals) ** i)) % len(vals)]
            n = stop - start
            bad = np.zeros(n, bool)
            unsure = np.zeros(n, bool)
            for ch in choices:
                ev = _Eval(claim.fmt, claim.rounding, env, ch, n)
                hyp, hyp_u = np.ones(n, bool), np.zeros(n, bool)
                for h in claim.hyps:
                    hv, hu = ev.boolean(h)
                    hyp_u = (hyp_u | hu) & ~(~hv & ~hu) & ~(~hyp & ~hyp_u)
                    hyp &= hv
                ok, ok_u = ev.boolean(claim.expr)
                sure_skip = (~hyp & ~hyp_u) | (ok & ~ok_u)
                bad |= hyp & ~hyp_u & ~ok & ~ok_u
                unsure |= (hyp_u | ok_u) & ~sure_skip
            bad &= ~unsure
            if np.any(bad):
                i = int(np.nonzero(bad)[0][0])
                point = {k: exact_input(v[i]) for k, v in env.items()}
                return counterexample_record(claim, point, self.name, self.version(), t0,
                                             {"checked": start + i + 1, "cases": total})
            idx = np.nonzero(unsure)[0]
            n_fallback += len(idx)
            if n_fallback > MAX_FALLBACK:
                raise Unsupported(f"more than {MAX_FALLBACK} assignments need exact (rational) evaluation")
            for j, i in enumerate(idx):
                if j % 256 == 0 and time.perf_counter() - t0 > timeout:
                    return Verdict("unknown", self.name, self.version(), time.perf_counter() - t0,
                                   reason=f"timeout after {timeout:g} s (exact re-evaluation)")
                point = {k: exact_input(v[i]) for k, v in env.items()}
                try:
                    hyp, ok, _ = holds_at(claim, point)
                except Undecided as exc:
                    return Verdict("unknown", self.name, self.version(), time.perf_counter() - t0,
                                   reason=f"exact evaluation undecided at {point}: {exc}")
                if hyp and not ok:
                    return counterexample_record(claim, point, self.name, self.version(), t0,
                                                 {"cases": total})
        return Verdict("proved", self.name, self.version(), time.perf_counter() - t0,
                       details={"cases": total * len(choices), "exact_fallback": n_fallback})
