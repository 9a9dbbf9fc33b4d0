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
``sr`` outcome combination is enumerated (away from zero / toward zero per ``rnd``): the outcome loops
are unrolled (:func:`_unroll`), so a line runs once per combination of the outcomes it depends on.
A variable the claim is invariant under negating (:mod:`proofs.signs`) ranges over its non-negative
half only.

The kernel is validated against the numpy engine on small formats in the tests (same verdicts,
same first counterexample).
"""
from __future__ import annotations

import math
import re
import time
from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from qbound.proofs.claimwalk import NodeVisitor
from qbound.proofs.engines.base import Engine, Unsupported, counterexample_record
from qbound.proofs.engines.exhaustive import MAX_FALLBACK, values_of
from qbound.proofs.exact import Undecided, claim_rnd_nodes, holds_at
from qbound.proofs.verdict import Verdict

MAX_CASES = 1 << 33
#: enumerate sign-flip invariant variables on their non-negative half (:mod:`proofs.signs`)
SIGN_REDUCTION = True
#: "cost": nest the sr outcome loops in the order of least work (:func:`_loop_nest`); "build": node order
LOOP_ORDER = "cost"
#: unroll the sr outcome loops (:func:`_unroll`) when the kernel body stays below this many lines
UNROLL = True
UNROLL_MAX_LINES = 3000
ROWS_PER_BLOCK = 256
EARLY_EXIT = True
#: evaluate each assignment first by a filter kernel (``_point_fast``: the sums and products that feed
#: only order comparisons in float64 with error bounds) and by the exact kernel only when the filter
#: is unsure (see :class:`_Gen`); off: every assignment by the exact kernel
FAST_FIRST = True
#: in the filter, an order comparison under sr is decided for all outcome combinations at once from
#: the extreme values of its sides (:func:`_order_filter`)
ORDER_FILTER = True
_CACHE: dict = {}


def available() -> bool:
    try:
        import numba  # noqa: F401
        return True
    except ImportError:
        return False


@intrinsic
def _f2u(typingctx, x):
    """Reinterpret a float64 as its uint64 bit pattern."""
    sig = types.uint64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _u2f(typingctx, x):
    """Reinterpret a uint64 bit pattern as a float64."""
    sig = types.float64(types.uint64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a*b + c with one rounding (LLVM's llvm.fma.f64: exact product, then one float64 rounding)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        return builder.fma(args[0], args[1], args[2])

    return sig, codegen


def margins() -> dict:
    """The float64 error margins of the kernel: ``eps`` bounds the relative error of one correctly
    rounded float64 operation (2^-53, taken as 2^-52); ``slack_rel``/``slack_abs`` enlarge every
    computed bound past the rounding of its own computation (a few operations, each relative error
    <= 2^-53, so 2^-40 is ample) and past float64's subnormal spacing (2^-1074; 2^-1070 taken).
    A comparison with an inexact side is decided in float64 only when the sides are further apart
    than their propagated bounds; the tests shrink these margins and show a wrong verdict results."""
    return {"eps": 2.0 ** -52, "slack_rel": 2.0 ** -40, "slack_abs": 2.0 ** -1070}


def _outcomes(nr: int) -> np.ndarray:
    """The sr outcomes enumerated for each ``rnd`` node: 0 toward zero, 1 away from zero. Both (a
    claim under sr must hold for every outcome combination): one loop per rnd node, nested in the
    order the nodes are built (inner ones first), so code below rnd j runs once per outcome
    combination of rnd 0..j only, and both neighbours of an rnd's argument are computed once."""
    return np.array([0, 1], dtype=np.int64)


class _Gen(NodeVisitor):
    """Generates the kernel body. Each numeric node becomes names (v, l, x, c, d):

    * ``v`` the float64 value, ``l`` a float64 low part: when ``x`` is true the exact value is the
      *normalized* double-double ``v + l`` (``v == fl(v + l)``; ``l == 0`` when ``v`` is not finite,
      then the IEEE special is the value);
    * ``c``: ``v`` is the correctly rounded float64 result of one operation on exact float64 operands
      (quotient, square root), so the exact value lies strictly inside ``v``'s float64 rounding interval;
    * ``d``: an upper bound of ``|v - exact|`` (``|l|`` when exact, ``inf`` when unknown).

    Code that does not depend on the sr outcome bits is emitted once per assignment (``pre``); code
    below an sr ``rnd`` is emitted inside the loop over outcome combinations (``loop``).
    """

    def __init__(self, fmt, rounding, vars_, margins, fast=False):
        self.fmt, self.mode, self.vars = fmt, rounding, list(vars_)
        #: the filter kernel (:data:`FAST_FIRST`): sums and products that only feed comparisons are
        #: computed in float64 with an error bound instead of double-double; ``exact`` is set while
        #: an operand of rnd/ulp/sqrt/division/power or of ``==``/``!=`` is generated (it needs the
        #: exact value)
        self.fast, self.exact = fast, False
        self.lines: list = []      # (dependency mask, line) in emission order
        self.k = 0
        self.rnd_ids = {}
        self.eps = margins["eps"]
        self.memo = {}
        emax = math.floor(math.log2(float(fmt.max_finite)))
        #: a format value: (p bits, multiple of the subnormal quantum, below 2^(emax+1))
        self.st_fmt = (fmt.man_bits + 1, fmt.emin - fmt.man_bits, emax + 1)

    def tmp(self):
        self.k += 1
        return f"t{self.k}"

    def emit(self, s, dep):
        """Append a line that depends on the outcomes of the sr rnd nodes in the bit mask ``dep``
        (0: once per assignment). :func:`_loop_nest` places it in the loop nest."""
        self.lines.append((dep, s))

    # ---------------------------------------------------------------- numeric nodes
    def num(self, n):
        """(v, l, x, c, d, dep, unsure, lo0, st): names, whether the code depends on the sr outcome,
        the names of the rnd-unsure flags below, whether ``l`` is statically 0.0, and ``st``: None or
        (m, L, H) when the value is statically a float64 exactly (``l`` = 0): an integer multiple
        of 2^L below 2^H in magnitude with at most m significant bits (or an IEEE special).

        Equal subtrees are computed once (common subexpressions), except under sr those containing
        an ``rnd`` (each ``rnd`` node draws its own outcome)."""
        share = self.mode != "sr" or not any(m.kind == "call" and m.value == "rnd" for m in n.walk())
        key = repr((_key(n), self.fast and not self.exact)) if share else None
        if key is not None and key in self.memo:
            return self.memo[key]
        r = self._num(n)
        if len(r) == 8:
            r = r + (None,)
        if key is not None:
            self.memo[key] = r
        return r

    def _static(self, k, A, B, names):
        """Emit an operation whose result is statically an exact float64 (both operands are, and the
        exact result has at most 53 significant bits, no underflow below 2^-1074, no overflow);
        returns the record or None."""
        if A[8] is None or B[8] is None:
            return None
        (m1, L1, H1), (m2, L2, H2) = A[8], B[8]
        if k == "mul":
            st = (m1 + m2, L1 + L2, H1 + H2)
        else:
            L, H = min(L1, L2), max(H1, H2) + 1
            st = (H - L, L, H)
        if not (st[0] <= 53 and st[1] >= -1074 and st[2] <= 1024):
            return None
        v, l, x, c, d = names
        dep = A[5] | B[5]
        op = {"add": "+", "sub": "-", "mul": "*"}[k]
        self.emit(f"{v} = {A[0]} {op} {B[0]}", dep)
        for nm, val in ((l, "0.0"), (x, "True"), (c, "True"), (d, "0.0")):
            self.emit(f"{nm} = {val}", dep)
        return v, l, x, c, d, dep, A[6] + B[6], True, st

    def exact_num(self, n):
        """:meth:`num` of an operand whose exact value is needed (see ``exact``)."""
        was, self.exact = self.exact, True
        try:
            return self.num(n)
        finally:
            self.exact = was

    def _num(self, n):
        """The record of :meth:`num` for one node: five fresh names (allocated before the
        operands', so the kernel text does not depend on the handler order), then the handler."""
        return self.visit(n, tuple(self.tmp() for _ in range(5)))

    def visit_num(self, n, names):
        """An exact rational: its float64 and whether that is exact."""
        v, l, x, c, d = names
        c0 = n.value
        fv = float(c0) if abs(c0) < 2 ** 1000 else math.copysign(math.inf, c0)
        ex = math.isfinite(fv) and Fraction(fv) == c0
        self.emit(f"{v} = {fv!r}" if math.isfinite(fv) else f"{v} = {'np.inf' if fv > 0 else '-np.inf'}", 0)
        err = 0.0 if ex else (abs(fv) * 2.0 ** -52 + 2.0 ** -1074 if math.isfinite(fv) else math.inf)
        self.emit(f"{l} = 0.0", 0)
        self.emit(f"{x} = {ex}", 0)
        self.emit(f"{c} = {ex or math.isfinite(fv)}", 0)
        self.emit(f"{d} = {err!r}".replace("inf", "np.inf"), 0)
        st = None
        if ex:
            num_, den = abs(c0.numerator), c0.denominator
            if num_ == 0:
                st = (1, 0, 0)
            else:
                tz = (num_ & -num_).bit_length() - 1
                L = tz - (den.bit_length() - 1)
                st = (num_.bit_length() - tz, L, L + num_.bit_length() - tz)
        return v, l, x, c, d, 0, [], True, st

    def visit_var(self, n, names):
        """A variable: the format value (exact in float64)."""
        v, l, x, c, d = names
        i = self.vars.index(n.value)
        self.emit(f"{v} = in{i}", 0)
        self.emit(f"{l} = 0.0", 0)
        self.emit(f"{x} = True", 0)
        self.emit(f"{c} = True", 0)
        self.emit(f"{d} = 0.0", 0)
        return v, l, x, c, d, 0, [], True, self.st_fmt

    def _arith(self, n, names):
        """x + y, x - y, x * y (double-double when the operands allow), x / y (correctly rounded float64)."""
        v, l, x, c, d = names
        k = n.kind
        num = self.exact_num if k == "div" else self.num
        A = num(n.args[0])
        B = num(n.args[1])
        if k != "div":
            r = self._static(k, A, B, (v, l, x, c, d))
            if r is not None:
                return r
        a, la, xa, ca, da, depa, ua, za, _ = A
        b, lb, xb, cb, db, depb, ub, zb, _ = B
        dep = depa | depb
        E = f"{self.eps!r}"
        if self.fast and not self.exact and k != "div":
            # float64 value of the high parts and a bound on its distance to the exact value (the low
            # parts count in the operands' bounds: d >= |l| in both forms)
            op = {"add": "+", "sub": "-", "mul": "*"}[k]
            self.emit(f"{v} = {a} {op} {b}", dep)
            for nm, val in ((l, "0.0"), (x, "False"), (c, "False")):
                self.emit(f"{nm} = {val}", dep)
            if k == "mul":
                self.emit(f"{d} = _slack(abs({a}) * {db} + abs({b}) * {da} + {da} * {db} + abs({v}) * {E})", dep)
            else:
                self.emit(f"{d} = _slack({da} + {db} + abs({v}) * {E})", dep)
            return v, l, x, c, d, dep, ua + ub, True
        if k in ("add", "sub"):
            sg = "" if k == "add" else "-"
            if za and zb:
                self.emit(f"{v}, {l} = _two_sum({a}, {sg}{b})", dep)
                self.emit(f"{x} = {xa} and {xb}", dep)
            else:
                self.emit(f"{v}, {l}, {x} = _dd_add({a}, {la}, {sg}{b}, {sg}{lb})", dep)
                self.emit(f"{x} = {x} and {xa} and {xb}", dep)
            self.emit(f"if not {x}:", dep)
            self.emit(f"    {l} = 0.0", dep)
            self.emit(f"    {v} = {a} + {sg}{b}", dep)
            self.emit(f"{c} = False", dep)
            self.emit(f"{d} = abs({l}) if {x} else _slack({da} + {db} + abs({v}) * {E})", dep)
        elif k == "mul":
            if za and zb:
                self.emit(f"{v}, {l}, {x} = _two_prod({a}, {b})", dep)
            else:
                self.emit(f"{v}, {l}, {x} = _dd_mul({a}, {la}, {b}, {lb})", dep)
            self.emit(f"{x} = {x} and {xa} and {xb}", dep)
            self.emit(f"if not {x}:", dep)
            self.emit(f"    {l} = 0.0", dep)
            self.emit(f"    {v} = {a} * {b}", dep)
            self.emit(f"{c} = False", dep)
            self.emit(f"{d} = abs({l}) if {x} else _slack(abs({a}) * {db} + abs({b}) * {da} + {da} * {db} + abs({v}) * {E})", dep)
        else:
            self.emit(f"{v} = _div({a}, {b})", dep)
            self.emit(f"{l} = 0.0", dep)
            single = f"({xa} and {xb} and {la} == 0.0 and {lb} == 0.0)"
            fin = f"(math.isfinite({a}) and math.isfinite({b}))"
            self.emit(f"{c} = {single}", dep)
            self.emit(f"{x} = {c} and ((not {fin}) or (_quot_exact({a}, {b}, {v}) and math.isfinite({v})))", dep)
            self.emit(f"{d} = 0.0 if {x} else (_slack(abs({v}) * {E}) if ({c} and {b} != 0.0) else np.inf)", dep)
        return v, l, x, c, d, dep, ua + ub, False

    visit_add = visit_sub = visit_mul = visit_div = _arith

    def visit_neg(self, n, names):
        """-x (exactly the negated pair)."""
        v, l, x, c, d = names
        a, la, xa, ca, da, dep, ua, za, st = self.num(n.args[0])
        self.emit(f"{v} = -{a}", dep)
        self.emit(f"{l} = -{la}", dep)
        self.emit(f"{x} = {xa}", dep)
        self.emit(f"{c} = {ca}", dep)
        self.emit(f"{d} = {da}", dep)
        return v, l, x, c, d, dep, ua, za, st

    def visit_pow(self, n, names):
        """x ** k by repeated exact-checked products (and one quotient for k < 0)."""
        v, l, x, c, d = names
        a, la, xa, _, _, dep, ua, _, _ = self.exact_num(n.args[0])
        p = n.value
        self.emit(f"{v} = 1.0", dep)
        self.emit(f"{x} = {xa} and {la} == 0.0", dep)
        for _ in range(abs(p)):
            r2 = self.tmp()
            self.emit(f"{r2} = {v} * {a}", dep)
            self.emit(f"if math.isfinite({v}) and math.isfinite({a}):", dep)
            self.emit(f"    {x} = {x} and _prod_exact({v}, {a}, {r2}) and math.isfinite({r2})", dep)
            self.emit(f"{v} = {r2}", dep)
        if p < 0:
            r2 = self.tmp()
            self.emit(f"{r2} = _div(1.0, {v})", dep)
            self.emit(f"if math.isfinite({v}) and {v} != 0.0:", dep)
            self.emit(f"    {x} = {x} and _quot_exact(1.0, {v}, {r2})", dep)
            self.emit(f"{v} = {r2}", dep)
        self.emit(f"{l} = 0.0", dep)
        self.emit(f"{c} = {x}", dep)
        self.emit(f"{d} = 0.0 if {x} else np.inf", dep)
        return v, l, x, c, d, dep, ua, True

    def _minmax(self, n, names):
        """min(x, y), max(x, y) of double-doubles."""
        v, l, x, c, d = names
        f = n.value
        a, la, xa, _, da, depa, ua, za, sa = self.num(n.args[0])
        b, lb, xb, _, db, depb, ub, zb, sb = self.num(n.args[1])
        dep = depa | depb
        self.emit(f"{v}, {l} = _{f}({a}, {la}, {b}, {lb})", dep)
        self.emit(f"{x} = {xa} and {xb}", dep)
        self.emit(f"{c} = {x} and {l} == 0.0", dep)
        self.emit(f"{d} = abs({l}) if {x} else max({da}, {db})", dep)
        st = None
        if sa is not None and sb is not None:
            st = (max(sa[0], sb[0]), min(sa[1], sb[1]), max(sa[2], sb[2]))
        return v, l, x, c, d, dep, ua + ub, za and zb, st

    visit_call_min = visit_call_max = _minmax

    def visit_call_abs(self, n, names):
        """|x|."""
        v, l, x, c, d = names
        a, la, xa, ca, da, dep, ua, za, sa = self.num(n.args[0])
        self.emit(f"{v}, {l} = _abs2({a}, {la})", dep)
        self.emit(f"{x} = {xa}", dep)
        self.emit(f"{c} = {ca}", dep)
        self.emit(f"{d} = {da}", dep)
        return v, l, x, c, d, dep, ua, za, sa

    def visit_call_sqrt(self, n, names):
        """sqrt(x), correctly rounded in float64, exact when its square is."""
        v, l, x, c, d = names
        a, la, xa, ca, da, dep, ua, za, sa = self.exact_num(n.args[0])
        self.emit(f"{v} = _sqrt({a})", dep)
        self.emit(f"{l} = 0.0", dep)
        self.emit(f"{c} = {xa} and {la} == 0.0", dep)
        self.emit(f"{x} = {c} and ({a} < 0.0 or not math.isfinite({a}) or _sqrt_exact({a}, {v}))", dep)
        self.emit(f"{d} = 0.0 if {x} else (_slack(abs({v}) * {self.eps!r}) if {c} else np.inf)", dep)
        return v, l, x, c, d, dep, ua, False

    def visit_call_ulp(self, n, names):
        """ulp(x) in the target format."""
        v, l, x, c, d = names
        a, la, xa, ca, da, dep, ua, za, sa = self.exact_num(n.args[0])
        self.emit(f"{v} = _ulp({a}, {la})", dep)
        self.emit(f"{l} = 0.0", dep)
        self.emit(f"{x} = {xa}", dep)
        self.emit(f"{c} = {xa}", dep)
        self.emit(f"{d} = 0.0 if {x} else np.inf", dep)
        st = None
        if sa is not None:
            st = (1, self.st_fmt[1], max(sa[2], self.st_fmt[1] + 1) - self.fmt.man_bits)
        return v, l, x, c, d, dep, ua, True, st

    def visit_call_rnd(self, n, names):
        """rnd(x): the target format's rounding (both neighbours under sr, one loop per node)."""
        v, l, x, c, d = names
        a, la, xa, ca, da, dep, ua, za, sa = self.exact_num(n.args[0])
        j = self.rnd_ids.setdefault(id(n), len(self.rnd_ids))
        seen = self.memo.get(("rnd-arg", a, la)) if self.mode == "sr" else None
        if seen is None:
            u = self.tmp()
            # unsure unless the rounding of the exact value is known: a correctly rounded float64 off a
            # rounding boundary, or an approximation whose error interval rounds alike at both ends
            self.emit(f"{u} = False", dep)
            self.emit(f"if not {xa}:", dep)
            self.emit(f"    if {ca}:", dep)
            self.emit(f"        {u} = (not math.isfinite({a})) or _boundary({a})", dep)
            self.emit("    else:", dep)
            self.emit(f"        {u} = not _determined({a}, {da})", dep)
        if self.mode == "sr":
            if seen is None:
                lo_, hi_ = self.tmp(), self.tmp()
                # both neighbours once (outside the outcome loop when the argument allows); another
                # rnd of the same argument (its own outcome) reuses them
                self.emit(f"{lo_}, {hi_} = _rnd_sr({a}, {la})", dep)
                self.memo[("rnd-arg", a, la)] = (u, lo_, hi_)
            else:
                u, lo_, hi_ = seen
            dep = dep | (1 << j)
            self.emit(f"{v} = {hi_} if b{j} == 1 else {lo_}", dep)
        else:
            self.emit(f"{v} = _rnd_det({a}, {la})", dep)
        self.emit(f"{l} = 0.0", dep)
        self.emit(f"{x} = True", dep)
        self.emit(f"{c} = True", dep)
        self.emit(f"{d} = 0.0", dep)
        return v, l, x, c, d, dep, ua + [u], True, self.st_fmt

    def visit_name(self, n, names):
        """Reserved names and constants are resolved by :func:`~qbound.proofs.exact.build_claim`."""
        raise Unsupported(f"compiled enumeration: unresolved name {n.value!r}")

    # ---------------------------------------------------------------- boolean nodes
    def boolean(self, n):
        """(value, unsure, dep) names."""
        return self.visit(n, (self.tmp(), self.tmp()))

    def visit_cmp(self, n, names):
        """A comparison chain: exact on exact sides, else decided only when separated."""
        v, u = names
        num = self.exact_num if ("==" in n.value or "!=" in n.value) else self.num
        ops = [num(a) for a in n.args]
        dep = 0
        for o in ops:
            dep |= o[5]
        flags = [f for o in ops for f in o[6]]
        self.emit(f"{u} = " + (" or ".join(flags) if flags else "False"), dep)
        self.emit(f"{v} = True", dep)
        for op, A, B in zip(n.value, ops, ops[1:]):
            a, la, xa, _, da, _, _, _, sa = A
            b, lb, xb, _, db, _, _, _, sb = B
            fn = _CMP_FN[op]
            if sa is not None and sb is not None:
                self.emit(f"{v} = {v} and ({a} {op} {b})", dep)
                continue
            # two exact sides compare exactly (normalized double-doubles compare lexicographically);
            # an inexact side is decided when the sides are further apart than their error bounds
            self.emit(f"if {xa} and {xb}:", dep)
            self.emit(f"    {v} = {v} and {fn}({a}, {la}, {b}, {lb})", dep)
            self.emit("else:", dep)
            self.emit(f"    {u} = {u} or not _sep({a}, {da}, {b}, {db})", dep)
            self.emit(f"    {v} = {v} and ({a} {op} {b})", dep)
        return v, u, dep

    def _andor(self, n, names):
        """A conjunction or disjunction, unsure only when the known parts do not decide it."""
        v, u = names
        k = n.kind
        parts = [self.boolean(a) for a in n.args]
        dep = 0
        for p in parts:
            dep |= p[2]
        j = " and " if k == "and" else " or "
        self.emit(f"{v} = " + j.join(p for p, _, _ in parts), dep)
        if k == "and":
            dec = " or ".join(f"((not {p}) and (not {q}))" for p, q, _ in parts)
        else:
            dec = " or ".join(f"({p} and (not {q}))" for p, q, _ in parts)
        self.emit(f"{u} = ({' or '.join(q for _, q, _ in parts)}) and not ({dec})", dep)
        return v, u, dep

    visit_and = visit_or = _andor

    def visit_not(self, n, names):
        v, u = names
        a, ua, dep = self.boolean(n.args[0])
        self.emit(f"{v} = not {a}", dep)
        self.emit(f"{u} = {ua}", dep)
        return v, u, dep


_CMP_FN = {"<": "_lt", "<=": "_le", ">": "_gt", ">=": "_ge", "==": "_eq", "!=": "_ne"}


_HELPERS = '''
import math
import numpy as np
from numba import njit, prange
from qbound.proofs.engines.compiled import _f2u, _u2f, _fma

TINY_OK = 2.0 ** -900     # |p| >= this: the error of fl(a*b) is a float64 (no underflow)
TINY_FMA = 2.0 ** -400
MAN = {man}
EMIN = {emin}
MAXF = {maxf!r}
POLICY = {policy}   # 0 ieee, 1 fn, 2 none
MODE = {mode}       # 0 rne 1 rna 2 rtz 3 rup 4 rdn 5 sr
SLACK_REL = {slack_rel!r}
SLACK_ABS = {slack_abs!r}
SHIFT = np.uint64(52 - MAN)                       # float64 fraction bits below the target's
LOW = (np.uint64(1) << SHIFT) - np.uint64(1)      # those bits
HALF = np.uint64(1) << (SHIFT - np.uint64(1))     # half a target quantum, in those bits
ABS = np.uint64(0x7FFFFFFFFFFFFFFF)
NORMAL_BITS = np.uint64(EMIN + 1023) << np.uint64(52)   # |x| >= 2^EMIN: the target's normal range

@njit
def _slack(x):
    """An error bound computed in float64, enlarged past the rounding of its own computation
    (a few operations, each relative error <= 2^-53) and past float64's subnormal spacing."""
    return x * (1.0 + SLACK_REL) + SLACK_ABS

@njit
def _exceeds(e, s):
    """e > s past the float64 rounding of both. Finite e = a - b and s = da + db mean four finite
    operands (an overflowing difference answers False: unsure)."""
    if not (math.isfinite(e) and math.isfinite(s)):
        return False
    return e * (1.0 - SLACK_REL) > _slack(s)

@njit
def _sep(a, da, b, db):
    """|a - b| > da + db, so the exact values compare as a and b do (and are not equal)."""
    return _exceeds(abs(a - b), da + db)

@njit
def _above(a, da, b, db):
    """a - b > da + db: every value within da of a exceeds every value within db of b."""
    return _exceeds(a - b, da + db)

@njit
def _two_sum(a, b):
    """(s, e) with s = fl(a + b) and s + e == a + b exactly (Knuth's TwoSum; e = 0 for specials)."""
    s = a + b
    if not math.isfinite(s):
        return s, 0.0
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)

@njit
def _two_prod(a, b):
    """(p, e, exact): p = fl(a*b), e = fma(a, b, -p); p + e == a*b exactly unless the error
    underflows (then exact is False)."""
    p = a * b
    if not math.isfinite(p):
        return p, 0.0, True
    if not (abs(p) >= TINY_OK or a == 0.0 or b == 0.0):
        return p, 0.0, False
    return p, _fma(a, b, -p), True

@njit
def _dd_add(ah, al, bh, bl):
    """(h, l, exact): (ah + al) + (bh + bl) == h + l, normalized, when exact; else h = fl(ah + bh)."""
    s, e = _two_sum(ah, bh)
    if not math.isfinite(s):
        return s, 0.0, True
    t, f = _two_sum(e, al)
    t2, g = _two_sum(t, bl)
    if f != 0.0 or g != 0.0:
        return s, 0.0, False
    h, l = _two_sum(s, t2)
    return h, l, True

@njit
def _dd_mul(ah, al, bh, bl):
    """(h, l, exact): (ah + al)(bh + bl) == h + l, normalized, when exact (one low part must be 0)."""
    if al != 0.0 and bl != 0.0:
        return ah * bh, 0.0, False
    if al != 0.0:
        ah, al, bh, bl = bh, bl, ah, al
    # a = ah exactly, b = bh + bl
    p, e, ok = _two_prod(ah, bh)
    if not math.isfinite(p):
        return p, 0.0, True
    if bl == 0.0:
        return p, e, ok
    q, f, ok2 = _two_prod(ah, bl)
    if not (ok and ok2) or f != 0.0:
        return p, 0.0, False
    t, g = _two_sum(e, q)
    if g != 0.0:
        return p, 0.0, False
    h, l = _two_sum(p, t)
    return h, l, True

@njit
def _lt(ah, al, bh, bl):
    return ah < bh or (ah == bh and al < bl)

@njit
def _le(ah, al, bh, bl):
    return ah < bh or (ah == bh and al <= bl)

@njit
def _gt(ah, al, bh, bl):
    return ah > bh or (ah == bh and al > bl)

@njit
def _ge(ah, al, bh, bl):
    return ah > bh or (ah == bh and al >= bl)

@njit
def _eq(ah, al, bh, bl):
    return ah == bh and al == bl

@njit
def _ne(ah, al, bh, bl):
    return not (ah == bh and al == bl)

@njit
def _abs2(h, l):
    if h < 0.0:
        return -h, -l
    return abs(h), l

@njit
def _div(a, b):
    if b == 0.0:
        if a == 0.0 or a != a:
            return np.nan
        s = 1.0 if (a > 0) == (math.copysign(1.0, b) > 0) else -1.0
        return s * np.inf
    return a / b

@njit
def _prod_exact(a, b, p):
    return _fma(a, b, -p) == 0.0 and (abs(p) >= TINY_OK or a == 0.0 or b == 0.0)

@njit
def _quot_exact(a, b, q):
    """q == a/b exactly: fma(q, b, -a) is the rounding of q*b - a, a multiple of 2^-904 when
    |q|, |b|, |a| >= 2^-400 (so it is 0 only when q*b == a)."""
    if b == 0.0 or a == 0.0:
        return True
    if abs(a) < TINY_FMA or abs(b) < TINY_FMA or abs(q) < TINY_FMA:
        return False
    return _fma(q, b, -a) == 0.0

@njit
def _sqrt(a):
    if a < 0.0 or a != a:
        return np.nan
    return math.sqrt(a)

@njit
def _sqrt_exact(a, s):
    """s == sqrt(a) exactly (s*s - a a multiple of 2^-904 when a >= 2^-400, as for quotients)."""
    if a == 0.0:
        return True
    if a < TINY_FMA:
        return False
    return _fma(s, s, -a) == 0.0

@njit
def _min(ah, al, bh, bl):
    if ah != ah or bh != bh:
        return np.nan, 0.0
    if _lt(ah, al, bh, bl):
        return ah, al
    return bh, bl

@njit
def _max(ah, al, bh, bl):
    if ah != ah or bh != bh:
        return np.nan, 0.0
    if _gt(ah, al, bh, bl):
        return ah, al
    return bh, bl

@njit
def _p2(n):
    """2.0 ** n for -1022 <= n <= 1023, from the bits."""
    return _u2f(np.uint64(n + 1023) << np.uint64(52))

@njit
def _expo(a):
    """floor(log2(a)) for finite a > 0."""
    e = np.int64(_f2u(a) >> np.uint64(52))
    if e == 0:
        m, e2 = math.frexp(a)
        return e2 - 1
    return e - 1023

@njit
def _ulp(h, l):
    """ulp in the target format at the exact value h + l (normalized double-double)."""
    if not math.isfinite(h):
        return np.nan
    if h == 0.0:
        return _p2(EMIN - MAN)
    a = abs(h)
    E = _expo(a)
    if l != 0.0 and (l < 0.0) != (h < 0.0) and _f2u(a) & np.uint64(0xFFFFFFFFFFFFF) == 0:
        E -= 1      # |h| a power of two and |h + l| < |h|: the binade below
    if E < EMIN:
        E = EMIN
    return _p2(E - MAN)

@njit
def _parts(a):
    """(k, r, qe) for finite a > 0: a = (k + r) 2^qe, k an integer, 0 <= r < 1, 2^qe the
    target quantum at a."""
    E = _expo(a)
    if E < EMIN:
        E = EMIN
    qe = E - MAN
    s = a * _p2(-qe)
    k = math.floor(s)
    return k, s - k, qe

@njit
def _boundary(x):
    if x == 0.0 or not math.isfinite(x):
        return False
    b = _f2u(x) & ABS
    if b >= NORMAL_BITS:    # target normal range: the grid is the float64 bits above SHIFT
        if MODE == 0 or MODE == 1:
            return (b & LOW) == HALF
        return (b & LOW) == np.uint64(0)
    k, r, qe = _parts(abs(x))
    if MODE == 0 or MODE == 1:
        return r == 0.5
    return r == 0.0

@njit
def _nudge(h, l):
    """The float64 neighbour of h on l's side: when h is a rounding boundary of the target and
    l != 0, the exact h + l lies strictly between h and it, and it is no boundary (the target has
    at most 50 fraction bits), so both round alike."""
    if l == 0.0 or not _boundary(h):
        return h
    b = _f2u(abs(h))
    b = b + np.uint64(1) if (l > 0.0) == (h > 0.0) else b - np.uint64(1)
    m = _u2f(b)
    return -m if h < 0.0 else m

@njit
def _determined(a, d):
    """Every real within d of a rounds (both sr outcomes under sr) as a does: the ends of the
    interval, widened past their own float64 rounding, have one sign and round alike (rounding is
    monotone, so every value between them rounds as they do)."""
    if not (math.isfinite(a) and math.isfinite(d)):
        return False
    w = _slack(d + abs(a) * 2.0 ** -52)
    lo = a - w
    hi = a + w
    if not ((lo > 0.0 and hi > 0.0) or (lo < 0.0 and hi < 0.0)):
        return False
    if MODE == 5:
        p1, q1 = _rnd_sr(lo, 0.0)
        p2, q2 = _rnd_sr(hi, 0.0)
        return p1 == p2 and q1 == q2
    return _rnd_det(lo, 0.0) == _rnd_det(hi, 0.0)

@njit
def _special(x):
    if x != x:
        return x
    if POLICY == 0:
        return x
    if POLICY == 1:
        return np.nan
    return math.copysign(MAXF, x)

@njit
def _rnd_det(h, l):
    """The deterministic rounding of the exact value h + l (rne, rna, rtz, rup, rdn)."""
    x = _nudge(h, l)
    if not math.isfinite(x):
        return _special(x)
    if x == 0.0:
        return x
    neg = x < 0.0
    k, r, qe = _parts(abs(x))
    if MODE == 0:
        up = r > 0.5 or (r == 0.5 and (k % 2.0) == 1.0)
    elif MODE == 1:
        up = r >= 0.5
    elif MODE == 2:
        up = False
    elif MODE == 3:
        up = r > 0.0 and not neg
    else:
        up = r > 0.0 and neg
    val = (k + (1.0 if up else 0.0)) * _p2(qe)
    if val > MAXF:
        if POLICY == 2:
            val = MAXF
        else:
            goes = MODE == 0 or MODE == 1 or (MODE == 3 and not neg) or (MODE == 4 and neg)
            if goes:
                big = np.inf if POLICY == 0 else np.nan
                return -big if neg else big
            val = MAXF
    return -val if neg else val

@njit
def _rnd_sr(h, l):
    """Both sr outcomes of the exact value h + l: (toward zero, away from zero); equal when it is a
    format value."""
    x = _nudge(h, l)
    if not math.isfinite(x):
        s = _special(x)
        return s, s
    if x == 0.0:
        return x, x
    neg = x < 0.0
    b = _f2u(x) & ABS
    if b >= NORMAL_BITS:
        # target normal range: toward zero clears the float64 bits below the target's last one;
        # away adds one target quantum to that pattern (a carry into the exponent is the next binade)
        tb = b & ~LOW
        tw = _u2f(tb)
        aw = _u2f(tb + LOW + np.uint64(1)) if (b & LOW) != np.uint64(0) else tw
    else:
        k, r, qe = _parts(abs(x))
        q = _p2(qe)
        tw = k * q
        aw = (k + 1.0) * q if r > 0.0 else tw
    if tw > MAXF:
        tw = MAXF
    if aw > MAXF:
        if POLICY == 2:
            aw = MAXF
        else:
            aw = np.inf if POLICY == 0 else np.nan
    if neg:
        return -tw, -aw
    return tw, aw

@njit
def _point(in0, in1, chs):
    """0 ok, 1 counterexample, 2 unsure."""
    res = 0
{body}
    return res

@njit
def _point_fast(in0, in1, chs):
    """The filter: 0 holds, 1 counterexample (both decided, as in _point), 2 ask _point."""
    res = 0
{fast_body}
    return res

@njit
def _decide(in0, in1, chs):
    s = _point_fast(in0, in1, chs)
    if s == 2:
        s = _point(in0, in1, chs)
    return s

@njit(parallel=True)
def _rows(vals, cols, nv, r0, r1, chs, first_bad, n_unsure, sym):
    n = len(cols)
    for r in prange(r0, r1):
        fb = -1
        nu = 0
        x0 = vals[r]
        if nv == 1:
            s = _decide(x0, 0.0, chs)
            if s == 1:
                fb = 0
            elif s == 2:
                nu += 1
        else:
            for j in range(r if sym else 0, n):
                s = _decide(x0, cols[j], chs)
                if s == 1:
                    fb = j
                    break
                if s == 2:
                    nu += 1
        first_bad[r - r0] = fb
        n_unsure[r - r0] = nu

@njit
def _unsure_in_row(vals, cols, nv, r, chs, sym):
    out = []
    n = len(cols)
    x0 = vals[r]
    if nv == 1:
        if _decide(x0, 0.0, chs) == 2:
            out.append(0)
        return out
    for j in range(r if sym else 0, n):
        if _decide(x0, cols[j], chs) == 2:
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


_HEAVY = ("_rnd_", "_dd_", "_two_", "_div(", "_sqrt", "_boundary", "_ulp(", "_quot_exact", "_prod_exact")


def _levels(lines, order) -> list:
    """Each line's loop level: the innermost position in ``order`` of the sr rnd nodes in its
    dependency mask (-1: outside every loop)."""
    pos = {j: i for i, j in enumerate(order)}
    return [max((pos[j] for j in pos if mask >> j & 1), default=-1) for mask, _ in lines]


def _loop_cost(lines, order) -> int:
    """Work of a loop nest: a line runs 2^(level + 1) times (:func:`_levels`); a line calling a
    helper counts 4."""
    return sum((4 if any(h in ln for h in _HEAVY) else 1) << (lv + 1)
               for (_, ln), lv in zip(lines, _levels(lines, order)))


def _loop_nest(lines, nr):
    """The kernel body: one loop per sr rnd node over its two outcomes, nested in the order of least
    :func:`_loop_cost` (of all orders: at most 6! of them); each line sits in the loop of the
    innermost node it depends on, lines keep their emission order (which is topological: a line's
    operands were emitted before it, with dependency masks it contains, so at no deeper level).

    >>> _loop_nest([(0, "x = 1"), (1, "y = x + b0"), (2, "z = x + b1"), (3, "w = y + z")], 2)
    ['    x = 1', '    for b0 in chs:', '        y = x + b0', '        for b1 in chs:', '            z = x + b1', '            w = y + z']
    >>> _loop_nest([(0, "x = 1"), (1, "y = x + b0"), (2, "z = _dd_add(x, b1)"), (3, "w = y + z")], 2)[1:4]
    ['    for b1 in chs:', '        z = _dd_add(x, b1)', '        for b0 in chs:']
    """
    import itertools
    orders = list(itertools.permutations(range(nr)))
    order = min(orders, key=lambda o: _loop_cost(lines, o)) if LOOP_ORDER == "cost" else orders[0]
    levels = _levels(lines, order)
    body = ["    " + ln for (_, ln), lv in zip(lines, levels) if lv < 0]
    for k, j in enumerate(order):
        ind = "    " * (k + 1)
        body.append(f"{ind}for b{j} in chs:")
        body += [ind + "    " + ln for (_, ln), lv in zip(lines, levels) if lv == k]
    return body


_NAME = re.compile(r"\bt\d+\b")
_BIT = re.compile(r"\bb(\d+)\b")
_ASSIGN = re.compile(r"^\s*(t\d+(?:\s*,\s*t\d+)*)\s*=[^=]")


class _NoUnroll(Exception):
    pass


def _unroll(lines, nr, outcomes, max_lines=UNROLL_MAX_LINES):
    """The kernel body with the sr outcome loops unrolled: each run of lines with one dependency mask
    M is copied once per combination of the outcomes of the rnd nodes in M (2^|M| copies, not once
    per combination of all the loops around it), ``b<j>`` replaced by the outcome, and every name
    ``t<k>`` a line defines renamed by the outcomes of its own mask (``t12`` of mask {0, 2} at
    outcomes (1, 0) is ``t12_1_0``). A line's operands have masks inside its own (emission order is
    topological), so every copy reads the copy of the same outcomes. Raises :class:`_NoUnroll` when a
    name is assigned under two masks or the body would exceed ``max_lines``.

    >>> _unroll([(0, "t1 = in0"), (1, "t2 = t1 + b0"), (3, "t4 = t2 - b1")], 2, (0, 1))
    ['    t1 = in0', '    t2_0 = t1 + 0', '    t2_1 = t1 + 1', '    t4_0_0 = t2_0 - 0', '    t4_0_1 = t2_0 - 1', '    t4_1_0 = t2_1 - 0', '    t4_1_1 = t2_1 - 1']
    >>> try:
    ...     _unroll([(0, "t1 = in0"), (1, "t1 = t1 + b0")], 1, (0, 1))
    ... except _NoUnroll as exc:
    ...     print(exc)
    t1 assigned under two masks
    """
    import itertools
    size = sum(len(outcomes) ** bin(m).count("1") for m, _ in lines)
    if size > max_lines:
        raise _NoUnroll(f"{size} lines")
    mask_of: dict = {}
    body = []
    i = 0
    while i < len(lines):
        mask = lines[i][0]
        j = i
        while j < len(lines) and lines[j][0] == mask:
            j += 1
        chunk = [ln for _, ln in lines[i:j]]
        for ln in chunk:
            for nm in _NAME.findall(ln):
                mask_of.setdefault(nm, mask)
            a = _ASSIGN.match(ln)
            if a:
                for nm in re.findall(r"t\d+", a.group(1)):
                    if mask_of[nm] != mask:
                        raise _NoUnroll(f"{nm} assigned under two masks")
        bits = [k for k in range(nr) if mask >> k & 1]
        for combo in itertools.product(outcomes, repeat=len(bits)):
            val = dict(zip(bits, combo))

            def rename(m, val=val):
                nm = m.group(0)
                return nm + "".join(f"_{val[k]}" for k in range(nr) if mask_of[nm] >> k & 1)

            for ln in chunk:
                ln = _BIT.sub(lambda m: str(val[int(m.group(1))]), ln)
                body.append("    " + _NAME.sub(rename, ln))
        i = j
    return body


def _order_claim(claim) -> bool:
    """Is the claim one order comparison ``P op Q`` (op one of < <= > >=) under sr?"""
    n = claim.expr
    return (claim.rounding == "sr" and n.kind == "cmp" and len(n.args) == 2
            and n.value[0] in ("<", "<=", ">", ">="))


def _order_filter(g, claim, hv, hu):
    """The filter's end for an order comparison under sr (:func:`_order_claim`): instead of one
    comparison per outcome combination, the least value of the side that must be larger over its own
    outcome copies and the largest of the other, each with its largest error bound. When those are
    separated (min P - max Q > dP + dQ) every combination holds, whether or not the two sides share
    outcomes (min P >= P(c) and Q(c) <= max Q for each c): the assignment holds (0); else the exact
    kernel decides it (2). Each side's accumulation runs once per combination of its own outcomes."""
    n = claim.expr
    op = n.value[0]
    P, Q = (n.args[0], n.args[1]) if op in (">", ">=") else (n.args[1], n.args[0])
    for ln in ("acc_p = np.inf", "acc_q = -np.inf", "acc_dp = 0.0", "acc_dq = 0.0", "acc_ok = True"):
        g.emit(ln, 0)
    for side, acc, red, dacc in ((P, "acc_p", "min", "acc_dp"), (Q, "acc_q", "max", "acc_dq")):
        v, _, _, _, d, dep, flags = g.num(side)[:7]
        g.emit(f"{acc} = {red}({acc}, {v})", dep)
        g.emit(f"{dacc} = max({dacc}, {d})", dep)
        g.emit(f"acc_ok = acc_ok and math.isfinite({v})" + "".join(f" and not {f}" for f in flags), dep)
    for ln in (f"if (not {hv}) and (not {hu}):", "    return 0", f"if {hu} or not acc_ok:", "    return 2",
               "if _above(acc_p, acc_dp, acc_q, acc_dq):", "    return 0", "return 2"):
        g.emit(ln, 0)


def _body(claim, mg, fast: bool):
    """(kernel body of ``_point`` or, ``fast``, of ``_point_fast``; the number of sr rnd nodes)."""
    if fast and ORDER_FILTER and _order_claim(claim):
        try:
            return _body_of(claim, mg, True, order=True)
        except _NoUnroll:
            pass
    return _body_of(claim, mg, fast)


def _body_of(claim, mg, fast: bool, order: bool = False):
    """:func:`_body`; ``order``: end with :func:`_order_filter` (raises :class:`_NoUnroll` when that body
    cannot be unrolled or the hypotheses depend on an sr outcome)."""
    g = _Gen(claim.fmt, claim.rounding, claim.vars, mg, fast=fast)
    hv, hu, hdep = "True", "False", 0
    for h in claim.hyps:
        v, u, dep = g.boolean(h)
        hdep |= dep
        nv_, nu_ = g.tmp(), g.tmp()
        g.emit(f"{nu_} = ({hu} or {u}) and not ((not {v} and not {u}) or (not {hv} and not {hu}))", hdep)
        g.emit(f"{nv_} = {hv} and {v}", hdep)
        hv, hu = nv_, nu_
    if hdep == 0 and EARLY_EXIT:
        # hypotheses decided false without any sr outcome: the claim need not be evaluated
        g.emit(f"if (not {hv}) and (not {hu}):", 0)
        g.emit("    return 0", 0)
    if order:
        if hdep:
            raise _NoUnroll("hypotheses depend on an sr outcome")
        if not UNROLL:
            raise _NoUnroll("off")
        _order_filter(g, claim, hv, hu)
        nr = len(g.rnd_ids)
        return "\n".join(_unroll(g.lines, nr, tuple(int(b) for b in _outcomes(nr)))), nr
    ov, ou, _ = g.boolean(claim.expr)
    nr = len(g.rnd_ids) if claim.rounding == "sr" else 0
    full = (1 << nr) - 1
    for ln in (f"if {hv} and not {hu}:", f"    if (not {ov}) and (not {ou}):", "        return 1",
               f"if ({hu} or {ou}) and not ((not {hv} and not {hu}) or ({ov} and not {ou})):", "    res = 2"):
        g.emit(ln, full)
    try:
        if not UNROLL:
            raise _NoUnroll("off")
        body = "\n".join(_unroll(g.lines, nr, tuple(int(b) for b in _outcomes(nr))))
    except _NoUnroll:
        body = "\n".join(_loop_nest(g.lines, nr))
    return body, nr


def _compile(claim):
    mg = margins()
    key = (claim.fmt.name, claim.rounding, str(claim.expr), tuple(str(h) for h in claim.hyps), tuple(claim.vars),
           UNROLL, LOOP_ORDER, FAST_FIRST, ORDER_FILTER, tuple(int(b) for b in _outcomes(1)),
           tuple(sorted(mg.items())))
    if key in _CACHE:
        return _CACHE[key]
    fmt = claim.fmt
    if not fmt.subnormals:
        raise Unsupported("compiled enumeration: formats without subnormals")
    if fmt.man_bits > 50:
        raise Unsupported("compiled enumeration: formats with more than 50 fraction bits")
    body, nr = _body(claim, mg, fast=False)
    fast_body = _body(claim, mg, fast=True)[0] if FAST_FIRST else body
    if fast_body == body:   # nothing for a filter to do: every assignment straight to the exact kernel
        fast_body = "    return 2"
    mode = {"rne": 0, "rna": 1, "rtz": 2, "rup": 3, "rdn": 4, "sr": 5}[claim.rounding]
    policy = {"ieee": 0, "fn": 1, "none": 2}[fmt.policy]
    src = _HELPERS.format(man=fmt.man_bits, emin=fmt.emin, maxf=float(fmt.max_finite), policy=policy,
                          mode=mode, body=body, fast_body=fast_body, slack_rel=mg["slack_rel"], slack_abs=mg["slack_abs"])
    ns: dict = {"__source__": src}
    exec(compile(src, f"<qbound claim kernel {claim.source[:40]}>", "exec"), ns)
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
        """Assignments enumerated: the product of the domain sizes, each variable that
        :func:`~qbound.proofs.signs.sign_reduce` halves on its non-negative half."""
        if len(claim.vars) > 2:
            raise Unsupported("compiled enumeration takes at most two variables")
        rows, cols, _ = self._domains(claim)
        return len(rows) * (len(cols) if len(claim.vars) == 2 else 1)

    @staticmethod
    def sign_reduction(claim):
        """The :class:`~qbound.proofs.signs.SignReduction` the enumeration applies (none when off)."""
        from qbound.proofs.signs import SignReduction, sign_reduce
        return sign_reduce(claim) if SIGN_REDUCTION else SignReduction((), "sign reduction off")

    @staticmethod
    def _domains(claim):
        """(row values, column values, sign reduction): the first and second variable's domains."""
        from qbound.proofs.signs import nonnegative_half
        vals = values_of(claim.var_fmt, claim.var_domain).astype(np.float64)
        red = CompiledEngine.sign_reduction(claim)
        halved = red.halved
        doms = [nonnegative_half(vals) if v in halved else vals for v in claim.vars[:2]] or [vals]
        rows = doms[0]
        cols = doms[1] if len(doms) > 1 else doms[0]
        return rows, cols, red

    def decide(self, claim, timeout: float = 30.0, smt2_dir=None) -> Verdict:
        t0 = time.perf_counter()
        if not claim.vars:
            raise Unsupported("no variables")
        n_cases = len(values_of(claim.var_fmt, claim.var_domain)) ** len(claim.vars)
        if claim.rounding == "sr" and len(claim_rnd_nodes(claim)) > 6:
            raise Unsupported("more than 6 rnd() under sr")
        ns, nr = _compile(claim)
        vals, cols, red = self._domains(claim)
        nv = len(claim.vars)
        chs = _outcomes(nr)
        nchoice = 1 << nr
        rows = len(vals)
        sym = nv == 2 and len(vals) == len(cols) and symmetric(claim)
        fb = np.empty(ROWS_PER_BLOCK, np.int64)
        nu = np.empty(ROWS_PER_BLOCK, np.int64)
        unsure_rows = []
        total_unsure = 0
        for r0 in range(0, rows, ROWS_PER_BLOCK):
            if time.perf_counter() - t0 > timeout:
                return Verdict("unknown", self.name, self.version(), time.perf_counter() - t0,
                               reason=f"timeout after {timeout:g} s", details={"rows_checked": r0, "rows": rows})
            r1 = min(rows, r0 + ROWS_PER_BLOCK)
            ns["_rows"](vals, cols, nv, r0, r1, chs, fb, nu, sym)
            # exact re-decision of the unsure assignments of this block, in enumeration order, so the
            # first counterexample (exact or float) is the first in order
            for i in range(r1 - r0):
                r = r0 + i
                if nu[i]:
                    total_unsure += int(nu[i])
                    if total_unsure > MAX_FALLBACK:
                        raise Unsupported(f"more than {MAX_FALLBACK} assignments need exact evaluation")
                    for j in ns["_unsure_in_row"](vals, cols, nv, r, chs, sym):
                        if fb[i] >= 0 and j > fb[i]:
                            break
                        point = self._point(claim, vals, cols, r, j)
                        try:
                            hyp, ok, _ = holds_at(claim, point)
                        except Undecided as exc:
                            return Verdict("unknown", self.name, self.version(), time.perf_counter() - t0,
                                           reason=f"exact evaluation undecided: {exc}")
                        if hyp and not ok:
                            return counterexample_record(claim, point, self.name, self.version(), t0,
                                                         {"cases": n_cases})
                if fb[i] >= 0:
                    return counterexample_record(claim, self._point(claim, vals, cols, r, int(fb[i])), self.name,
                                                 self.version(), t0, {"cases": n_cases})
            unsure_rows.append(total_unsure)
        n_eval = rows * (rows + 1) // 2 if sym else rows * (len(cols) if nv == 2 else 1)
        details = {"cases": n_cases * nchoice, "evaluated": n_eval * nchoice, "symmetry": sym,
                   "exact_fallback": total_unsure}
        if red.halved:
            details["sign_reduction"] = {"halved": list(red.halved), "why": red.why}
        return Verdict("proved", self.name, self.version(), time.perf_counter() - t0, details=details)

    @staticmethod
    def _point(claim, vals, cols, r, j):
        xs = [vals[r], cols[j]]
        from qbound.proofs.engines.exhaustive import exact_input
        return {name: exact_input(xs[i]) for i, name in enumerate(claim.vars)}

    def satisfiable(self, claim, timeout: float = 30.0):
        from dataclasses import replace
        from qbound.proofs.claims import Node
        false = Node("cmp", (Node("num", value=Fraction(0)), Node("num", value=Fraction(1))), ("==",))
        try:
            v = self.decide(replace(claim, expr=false, report_expr=false), timeout=timeout)
        except Unsupported:
            return None
        return {"proved": False, "falsified": True}.get(v.status)
