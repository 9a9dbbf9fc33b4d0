"""Compiled enumeration: the exhaustive engine's semantics as a numba kernel generated per claim,
multithreaded over the first variable, with early exit (blocks of rows in order, so the reported
counterexample is the first in enumeration order whatever the thread count).

It makes 2^32 assignments (two variables of a 16-bit format) feasible. The arithmetic is the same
as :mod:`proofs.engines.exhaustive`: float64 with *exactness tracking* (TwoSum, Dekker's TwoProd,
``q*b == a`` for quotients, ``s*s == a`` for square roots); ``rnd`` of an exact value is the exact
rounding of a float64 number into the target format (frexp/ldexp, exact); ``rnd`` of a correctly
rounded inexact single operation is still exact unless that float64 lies on a rounding boundary of
the target (a midpoint for nearest modes, a grid point for directed ones); a comparison with an
inexact side, or any other doubt, makes the assignment *unsure*, and every unsure assignment is
re-decided by the exact rational evaluator (:mod:`proofs.exact`) before a verdict is given. Each
``sr`` outcome combination is enumerated (away from zero / toward zero per ``rnd``).

The kernel is validated against the numpy engine on small formats in the tests (same verdicts,
same first counterexample).
"""
from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np

from qbound.proofs.engines.base import Engine, Unsupported, counterexample_record
from qbound.proofs.engines.exhaustive import MAX_FALLBACK, values_of
from qbound.proofs.exact import Undecided, holds_at, rnd_nodes
from qbound.proofs.verdict import Verdict

MAX_CASES = 1 << 33
ROWS_PER_BLOCK = 256
_CACHE: dict = {}


def available() -> bool:
    try:
        import numba  # noqa: F401
        return True
    except ImportError:
        return False


class _Gen:
    def __init__(self, fmt, rounding, vars_):
        self.fmt, self.mode, self.vars = fmt, rounding, list(vars_)
        self.lines = []
        self.k = 0
        self.rnd_ids = {}

    def tmp(self):
        self.k += 1
        return f"t{self.k}"

    def emit(self, s):
        self.lines.append("    " * 3 + s)

    def num(self, n):
        """Returns names (val, exact, cr, err): err bounds |val - exact value| (0.0 when exact,
        inf when unknown), computed with slack for float64's own rounding of the bound."""
        v, e, c, d = self._num(n)
        return v, e, c, d

    def _err(self, d, e, expr):
        self.emit(f"{d} = 0.0 if {e} else _slack({expr})")

    def _num(self, n):
        k = n.kind
        v, e, c, d = self.tmp(), self.tmp(), self.tmp(), self.tmp()
        if k == "num":
            c0 = n.value
            fv = float(c0) if abs(c0) < 2 ** 1000 else math.copysign(math.inf, c0)
            ex = math.isfinite(fv) and Fraction(fv) == c0
            self.emit(f"{v} = {fv!r}" if math.isfinite(fv) else f"{v} = {'np.inf' if fv > 0 else '-np.inf'}")
            self.emit(f"{e} = {ex}")
            self.emit(f"{c} = {ex or math.isfinite(fv)}")
            self.emit(f"{d} = {0.0 if ex else (abs(fv) * 2.0 ** -52 + 2.0 ** -1074 if math.isfinite(fv) else math.inf)!r}".replace("inf", "np.inf"))
            return v, e, c, d
        if k == "var":
            i = self.vars.index(n.value)
            self.emit(f"{v} = x{i}")
            self.emit(f"{e} = True")
            self.emit(f"{c} = True")
            self.emit(f"{d} = 0.0")
            return v, e, c, d
        if k in ("add", "sub", "mul", "div"):
            a, ea, _, da = self.num(n.args[0])
            b, eb, _, db = self.num(n.args[1])
            op = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[k]
            if k == "div":
                self.emit(f"{v} = _div({a}, {b})")
            else:
                self.emit(f"{v} = {a} {op} {b}")
            fin = f"(math.isfinite({a}) and math.isfinite({b}))"
            if k == "add":
                chk = f"_sum_exact({a}, {b}, {v})"
            elif k == "sub":
                chk = f"_sum_exact({a}, -{b}, {v})"
            elif k == "mul":
                chk = f"_prod_exact({a}, {b}, {v})"
            else:
                chk = f"_quot_exact({a}, {b}, {v})"
            self.emit(f"{e} = {ea} and {eb} and ((not {fin}) or ({chk} and math.isfinite({v})))")
            self.emit(f"{c} = {ea} and {eb}")
            if k in ("add", "sub"):
                self._err(d, e, f"{da} + {db} + abs({v}) * EPS")
            elif k == "mul":
                self._err(d, e, f"abs({a}) * {db} + abs({b}) * {da} + {da} * {db} + abs({v}) * EPS")
            else:
                self._err(d, e, f"abs({v}) * EPS if ({c} and {b} != 0.0) else np.inf")
            return v, e, c, d
        if k == "neg":
            a, ea, ca, da = self.num(n.args[0])
            self.emit(f"{v} = -{a}")
            self.emit(f"{e} = {ea}")
            self.emit(f"{c} = {ca}")
            self.emit(f"{d} = {da}")
            return v, e, c, d
        if k == "pow":
            a, ea, _, _ = self.num(n.args[0])
            p = n.value
            self.emit(f"{v} = 1.0")
            self.emit(f"{e} = {ea}")
            for _ in range(abs(p)):
                r2 = self.tmp()
                self.emit(f"{r2} = {v} * {a}")
                self.emit(f"if math.isfinite({v}) and math.isfinite({a}):")
                self.emit(f"    {e} = {e} and _prod_exact({v}, {a}, {r2}) and math.isfinite({r2})")
                self.emit(f"{v} = {r2}")
            if p < 0:
                r2 = self.tmp()
                self.emit(f"{r2} = _div(1.0, {v})")
                self.emit(f"if math.isfinite({v}) and {v} != 0.0:")
                self.emit(f"    {e} = {e} and _quot_exact(1.0, {v}, {r2})")
                self.emit(f"{v} = {r2}")
            self.emit(f"{c} = {e}")
            self.emit(f"{d} = 0.0 if {e} else np.inf")
            return v, e, c, d
        if k == "call":
            f = n.value
            if f in ("min", "max"):
                a, ea, _, da = self.num(n.args[0])
                b, eb, _, db = self.num(n.args[1])
                self.emit(f"{v} = _{f}({a}, {b})")
                self.emit(f"{e} = {ea} and {eb}")
                self.emit(f"{c} = {e}")
                self.emit(f"{d} = 0.0 if {e} else max({da}, {db})")
                return v, e, c, d
            a, ea, ca, da = self.num(n.args[0])
            if f == "abs":
                self.emit(f"{v} = abs({a})")
                self.emit(f"{e} = {ea}")
                self.emit(f"{c} = {ca}")
                self.emit(f"{d} = {da}")
                return v, e, c, d
            if f == "sqrt":
                self.emit(f"{v} = _sqrt({a})")
                self.emit(f"{e} = {ea} and ({a} < 0.0 or not math.isfinite({a}) or _sqrt_exact({a}, {v}))")
                self.emit(f"{c} = {ea}")
                self._err(d, e, f"abs({v}) * EPS if {ea} else np.inf")
                return v, e, c, d
            if f == "ulp":
                self.emit(f"{v} = _ulp({a})")
                self.emit(f"{e} = {ea}")
                self.emit(f"{c} = {ea}")
                self.emit(f"{d} = 0.0 if {e} else np.inf")
                return v, e, c, d
            if f == "rnd":
                j = self.rnd_ids.setdefault(id(n), len(self.rnd_ids))
                away = f"((choice >> {j}) & 1) == 1" if self.mode == "sr" else "False"
                self.emit(f"{v} = _rnd({a}, {away})")
                self.emit(f"if not {ea}:")
                self.emit(f"    if (not {ca}) or (not math.isfinite({a})) or _boundary({a}):")
                self.emit("        unsure_r = True")
                self.emit(f"{e} = True")
                self.emit(f"{c} = True")
                self.emit(f"{d} = 0.0")
                return v, e, c, d
        raise Unsupported(f"compiled enumeration: node {k}")

    def boolean(self, n):
        """Returns names (value, unsure)."""
        k = n.kind
        v, u = self.tmp(), self.tmp()
        if k == "cmp":
            self.emit("unsure_r = False")
            ops = [self.num(a) for a in n.args]
            self.emit(f"{u} = unsure_r")
            self.emit(f"{v} = True")
            for op, (a, ea, _, da), (b, eb, _, db) in zip(n.value, ops, ops[1:]):
                # an inexact side is still decided when the sides are further apart than their error
                self.emit(f"{u} = {u} or not (({ea} and {eb}) or _sep({a}, {da}, {b}, {db}))")
                self.emit(f"{v} = {v} and ({a} {op} {b})")
            return v, u
        if k in ("and", "or"):
            parts = [self.boolean(a) for a in n.args]
            j = " and " if k == "and" else " or "
            self.emit(f"{v} = " + j.join(p for p, _ in parts))
            if k == "and":
                dec = " or ".join(f"((not {p}) and (not {q}))" for p, q in parts)
            else:
                dec = " or ".join(f"({p} and (not {q}))" for p, q in parts)
            self.emit(f"{u} = ({' or '.join(q for _, q in parts)}) and not ({dec})")
            return v, u
        if k == "not":
            a, ua = self.boolean(n.args[0])
            self.emit(f"{v} = not {a}")
            self.emit(f"{u} = {ua}")
            return v, u
        raise Unsupported(f"compiled enumeration: boolean node {k}")


_HELPERS = '''
import math
import numpy as np
from numba import njit, prange

SPLIT = 134217729.0
TINY_OK = 2.0 ** -900
MAN = {man}
EMIN = {emin}
MAXF = {maxf!r}
POLICY = {policy}   # 0 ieee, 1 fn, 2 none
MODE = {mode}       # 0 rne 1 rna 2 rtz 3 rup 4 rdn 5 sr
EPS = 2.0 ** -52    # >= the relative error of one correctly rounded float64 operation

@njit(inline="always")
def _slack(x):
    """An error bound computed in float64, enlarged past the rounding of its own computation
    (a few operations, each relative error <= 2^-53) and past float64's subnormal spacing."""
    return x * (1.0 + 2.0 ** -40) + 2.0 ** -1070

@njit(inline="always")
def _sep(a, da, b, db):
    """|a - b| > da + db, so the exact values compare as a and b do (and are not equal)."""
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(da) and math.isfinite(db)):
        return False
    return abs(a - b) * (1.0 - 2.0 ** -40) > _slack(da + db)

@njit(cache=False, inline="always")
def _split(a):
    c = SPLIT * a
    hi = c - (c - a)
    return hi, a - hi

@njit(inline="always")
def _prod_err(a, b, p):
    ah, al = _split(a)
    bh, bl = _split(b)
    return al * bl - (((p - ah * bh) - al * bh) - ah * bl)

@njit(inline="always")
def _sum_exact(a, b, s):
    bb = s - a
    return ((a - (s - bb)) + (b - bb)) == 0.0

@njit(inline="always")
def _prod_exact(a, b, p):
    return _prod_err(a, b, p) == 0.0 and (abs(p) >= TINY_OK or a == 0.0 or b == 0.0)

@njit(inline="always")
def _div(a, b):
    if b == 0.0:
        if a == 0.0 or a != a:
            return np.nan
        s = 1.0 if (a > 0) == (math.copysign(1.0, b) > 0) else -1.0
        return s * np.inf
    return a / b

@njit(inline="always")
def _quot_exact(a, b, q):
    if b == 0.0:
        return True
    return q * b == a and _prod_err(q, b, q * b) == 0.0 and (abs(q) >= TINY_OK or a == 0.0)

@njit(inline="always")
def _sqrt(a):
    if a < 0.0 or a != a:
        return np.nan
    return math.sqrt(a)

@njit(inline="always")
def _sqrt_exact(a, s):
    return s * s == a and _prod_err(s, s, s * s) == 0.0 and (s >= TINY_OK or a == 0.0)

@njit(inline="always")
def _min(a, b):
    if a != a or b != b:
        return np.nan
    return a if a < b else b

@njit(inline="always")
def _max(a, b):
    if a != a or b != b:
        return np.nan
    return a if a > b else b

@njit(inline="always")
def _ulp(a):
    if not math.isfinite(a):
        return np.nan
    if a == 0.0:
        return math.ldexp(1.0, EMIN - MAN)
    m, e = math.frexp(abs(a))
    E = e - 1
    if E < EMIN:
        E = EMIN
    return math.ldexp(1.0, E - MAN)

@njit(inline="always")
def _parts(x):
    a = abs(x)
    m, e = math.frexp(a)
    E = e - 1
    if E < EMIN:
        E = EMIN
    qe = E - MAN
    s = math.ldexp(a, -qe)
    k = math.floor(s)
    return k, s - k, qe

@njit(inline="always")
def _boundary(x):
    if x == 0.0 or not math.isfinite(x):
        return False
    k, r, qe = _parts(x)
    if MODE == 0 or MODE == 1:
        return r == 0.5
    return r == 0.0

@njit(inline="always")
def _rnd(x, away):
    if x != x:
        return x
    if not math.isfinite(x):
        if POLICY == 0:
            return x
        if POLICY == 1:
            return np.nan
        return math.copysign(MAXF, x)
    if x == 0.0:
        return x
    neg = x < 0.0
    k, r, qe = _parts(x)
    if MODE == 0:
        up = r > 0.5 or (r == 0.5 and (k % 2.0) == 1.0)
    elif MODE == 1:
        up = r >= 0.5
    elif MODE == 2:
        up = False
    elif MODE == 3:
        up = r > 0.0 and not neg
    elif MODE == 4:
        up = r > 0.0 and neg
    else:
        up = r > 0.0 and away
    val = math.ldexp(k + (1.0 if up else 0.0), qe)
    if val > MAXF:
        if POLICY == 2:
            val = MAXF
        else:
            goes = MODE == 0 or MODE == 1 or (MODE == 5 and away) or (MODE == 3 and not neg) or (MODE == 4 and neg)
            if goes:
                big = np.inf if POLICY == 0 else np.nan
                return -big if neg else big
            val = MAXF
    return -val if neg else val

@njit
def _point(x0, x1, x2, nchoice):
    """0 ok, 1 counterexample, 2 unsure."""
    res = 0
    for choice in range(nchoice):
        unsure_r = False
{body}
        if hv and not hu:
            if (not ov) and (not ou):
                return 1
        if (hu or ou) and not ((not hv and not hu) or (ov and not ou)):
            res = 2
    return res

@njit(parallel=True)
def _rows(vals, nv, r0, r1, nchoice, first_bad, n_unsure, sym):
    n = len(vals)
    for r in prange(r0, r1):
        fb = -1
        nu = 0
        x0 = vals[r]
        if nv == 1:
            s = _point(x0, 0.0, 0.0, nchoice)
            if s == 1:
                fb = 0
            elif s == 2:
                nu += 1
        else:
            for j in range(r if sym else 0, n):
                s = _point(x0, vals[j], 0.0, nchoice)
                if s == 1:
                    fb = j
                    break
                if s == 2:
                    nu += 1
        first_bad[r - r0] = fb
        n_unsure[r - r0] = nu

@njit
def _unsure_in_row(vals, nv, r, nchoice, sym):
    out = []
    n = len(vals)
    x0 = vals[r]
    if nv == 1:
        if _point(x0, 0.0, 0.0, nchoice) == 2:
            out.append(0)
        return out
    for j in range(r if sym else 0, n):
        if _point(x0, vals[j], 0.0, nchoice) == 2:
            out.append(j)
    return out
'''


_COMMUTATIVE = frozenset({"add", "mul", "and", "or"})


def _key(n, swap=None):
    """A structural key of a claim tree, with the operands of exact ``+``, exact ``*``, ``and`` and
    ``or`` sorted (each commutes in the claim's semantics: exact arithmetic, IEEE specials, and the
    three-valued connectives). ``min``/``max`` are NOT sorted: they differ on (+0, -0). ``swap`` renames
    variables."""
    if n.kind == "var":
        return ("var", (swap or {}).get(n.value, n.value))
    if n.kind == "num":
        return ("num", str(n.value))
    args = [_key(a, swap) for a in n.args]
    if n.kind in _COMMUTATIVE:
        args.sort(key=repr)
    return (n.kind, repr(n.value), tuple(args))


def symmetric(claim) -> bool:
    """Is a two-variable claim (hypotheses included) unchanged when its variables are exchanged?
    Then the enumeration visits only pairs (x_i, x_j) with i <= j: the first counterexample in the
    full order is among them (its mirror image is a counterexample later in that order).

    >>> from qbound.proofs.exact import build_claim
    >>> symmetric(build_claim("abs(rnd(a+b) - (a+b)) <= u*abs(b+a)", "fp8_e4m3fn"))
    True
    >>> symmetric(build_claim("rnd(a-b) <= a", "fp8_e4m3fn")), symmetric(build_claim("min(a,b) <= b", "fp8_e4m3fn"))
    (False, False)
    """
    if len(claim.vars) != 2:
        return False
    a, b = claim.vars
    sw = {a: b, b: a}
    hy = sorted(repr(_key(h)) for h in claim.hyps)
    hs = sorted(repr(_key(h, sw)) for h in claim.hyps)
    return hy == hs and _key(claim.expr) == _key(claim.expr, sw)


def _compile(claim):
    key = (claim.fmt.name, claim.rounding, str(claim.expr), tuple(str(h) for h in claim.hyps), tuple(claim.vars))
    if key in _CACHE:
        return _CACHE[key]
    fmt = claim.fmt
    if not fmt.subnormals:
        raise Unsupported("compiled enumeration: formats without subnormals")
    g = _Gen(fmt, claim.rounding, claim.vars)
    g.emit("hv = True")
    g.emit("hu = False")
    for h in claim.hyps:
        v, u = g.boolean(h)
        g.emit(f"hu = (hu or {u}) and not ((not {v} and not {u}) or (not hv and not hu))")
        g.emit(f"hv = hv and {v}")
    ov, ou = g.boolean(claim.expr)
    g.emit(f"ov = {ov}")
    g.emit(f"ou = {ou}")
    body = "\n".join(ln[4:] for ln in g.lines)
    mode = {"rne": 0, "rna": 1, "rtz": 2, "rup": 3, "rdn": 4, "sr": 5}[claim.rounding]
    policy = {"ieee": 0, "fn": 1, "none": 2}[fmt.policy]
    src = _HELPERS.format(man=fmt.man_bits, emin=fmt.emin, maxf=float(fmt.max_finite), policy=policy,
                          mode=mode, body=body)
    ns: dict = {}
    exec(compile(src, f"<qbound claim kernel {claim.source[:40]}>", "exec"), ns)
    nr = len(g.rnd_ids) if claim.rounding == "sr" else 0
    _CACHE[key] = (ns, nr)
    return ns, nr


class CompiledEngine(Engine):
    """Enumeration of up to two variables of a <= 16-bit format by a generated numba kernel."""

    name = "compiled"
    sorts = None
    features = frozenset({"enumeration"})
    cost_factor = 1.0

    def available(self) -> bool:
        return available()

    def version(self) -> str:
        import numba
        return f"numba {numba.__version__}"

    def cases(self, claim) -> int:
        if len(claim.vars) > 2:
            raise Unsupported("compiled enumeration takes at most two variables")
        return len(values_of(claim.var_fmt, claim.var_domain)) ** max(1, len(claim.vars))

    def decide(self, claim, timeout: float = 30.0, smt2_dir=None) -> Verdict:
        t0 = time.perf_counter()
        if not claim.vars:
            raise Unsupported("no variables")
        n_cases = self.cases(claim)
        if claim.rounding == "sr" and len(rnd_nodes(claim.expr)) + sum(len(rnd_nodes(h)) for h in claim.hyps) > 6:
            raise Unsupported("more than 6 rnd() under sr")
        ns, nr = _compile(claim)
        vals = values_of(claim.var_fmt, claim.var_domain).astype(np.float64)
        nv = len(claim.vars)
        nchoice = 1 << nr
        rows = len(vals)
        sym = nv == 2 and symmetric(claim)
        fb = np.empty(ROWS_PER_BLOCK, np.int64)
        nu = np.empty(ROWS_PER_BLOCK, np.int64)
        unsure_rows = []
        total_unsure = 0
        for r0 in range(0, rows, ROWS_PER_BLOCK):
            if time.perf_counter() - t0 > timeout:
                return Verdict("unknown", self.name, self.version(), time.perf_counter() - t0,
                               reason=f"timeout after {timeout:g} s", details={"rows_checked": r0, "rows": rows})
            r1 = min(rows, r0 + ROWS_PER_BLOCK)
            ns["_rows"](vals, nv, r0, r1, nchoice, fb, nu, sym)
            # exact re-decision of the unsure assignments of this block, in enumeration order, so the
            # first counterexample (exact or float) is the first in order
            for i in range(r1 - r0):
                r = r0 + i
                if nu[i]:
                    total_unsure += int(nu[i])
                    if total_unsure > MAX_FALLBACK:
                        raise Unsupported(f"more than {MAX_FALLBACK} assignments need exact evaluation")
                    for j in ns["_unsure_in_row"](vals, nv, r, nchoice, sym):
                        if fb[i] >= 0 and j > fb[i]:
                            break
                        point = self._point(claim, vals, r, j)
                        try:
                            hyp, ok, _ = holds_at(claim, point)
                        except Undecided as exc:
                            return Verdict("unknown", self.name, self.version(), time.perf_counter() - t0,
                                           reason=f"exact evaluation undecided: {exc}")
                        if hyp and not ok:
                            return counterexample_record(claim, point, self.name, self.version(), t0,
                                                         {"cases": n_cases})
                if fb[i] >= 0:
                    return counterexample_record(claim, self._point(claim, vals, r, int(fb[i])), self.name,
                                                 self.version(), t0, {"cases": n_cases})
            unsure_rows.append(total_unsure)
        n_eval = rows * (rows + 1) // 2 if sym else n_cases
        return Verdict("proved", self.name, self.version(), time.perf_counter() - t0,
                       details={"cases": n_cases * nchoice, "evaluated": n_eval * nchoice,
                                "symmetry": sym, "exact_fallback": total_unsure})

    @staticmethod
    def _point(claim, vals, r, j):
        xs = [vals[r], vals[j]]
        from qbound.proofs.engines.exhaustive import exact_input
        return {name: exact_input(xs[i]) for i, name in enumerate(claim.vars)}

    def satisfiable(self, claim, timeout: float = 30.0):
        from dataclasses import replace
        from qbound.proofs.claims import Node
        false = Node("cmp", (Node("num", value=Fraction(0)), Node("num", value=Fraction(1))), ("==",))
        try:
            v = self.decide(replace(claim, expr=false), timeout=timeout)
        except Unsupported:
            return None
        return {"proved": False, "falsified": True}.get(v.status)
