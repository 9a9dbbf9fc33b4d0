"""Our own SMT-LIB2 generator: terms of QF_FP / QF_BVFP / QF_BV and linear integer/real arithmetic,
built with the subset of z3's Python API that :mod:`proofs.engines.fpenc` and
:mod:`proofs.reductions` use (``FP``, ``fpAdd``, ``If``, ``BitVec``, ``LShR``, ``Real``, operators ...),
printed as SMT-LIB2 text by :func:`to_smt2`.

Why: bitwuzla and cvc5 read SMT-LIB2 text; with this module no query needs z3 to be built (z3 is one
engine among three, not the query builder). The same encoder code runs on either backend (this module,
or the ``z3`` module itself), so the tests compare the two texts' verdicts claim by claim.

Terms are immutable DAG nodes with a sort. Printing shares every node referenced more than once (and
every node nested deeper than :data:`MAX_INLINE_DEPTH`) as a ``define-fun`` of arity 0, so a query is
linear in the size of the DAG (``sr`` encodings reference each rounded argument three times). Only
``FP``/``BitVec``/``Bool``/``Int``/``Real`` constants are declared (``declare-fun``): a model lists
exactly the claim's variables. Floating-point literals are written bit-exactly as ``(fp s e m)``; a
literal that the sort cannot hold exactly is an error, never silently rounded.

>>> a, b = FP("a", FPSort(8, 24)), FP("b", FPSort(8, 24))
>>> print(to_smt2([fpGT(fpMul(RNE(), a, b), FPVal("3", "-1", FPSort(8, 24)))]).strip())
(set-logic QF_FP)
(declare-fun a () (_ FloatingPoint 8 24))
(declare-fun b () (_ FloatingPoint 8 24))
(assert (fp.gt (fp.mul RNE a b) (fp #b0 #b01111111 #b10000000000000000000000)))
(check-sat)
>>> x = BitVec("x", 8)
>>> print(to_smt2([UGT(LShR(x, 1) + 3, x * 2)]).splitlines()[2])
(assert (bvugt (bvadd (bvlshr x #x01) #x03) (bvmul x #x02)))
>>> X, K = Real("X"), Int("K")
>>> print(to_smt2([X - K > Fraction(1, 2), K % 2 == 1]).splitlines()[3])
(assert (> (- X (to_real K)) (/ 1 2)))
"""
from __future__ import annotations

from fractions import Fraction

#: a node nested deeper than this is printed as a definition (keeps every solver's parser shallow)
MAX_INLINE_DEPTH = 48

BOOL, INT, REAL, RM = ("Bool",), ("Int",), ("Real",), ("RoundingMode",)


def FPSort(eb: int, sb: int):
    return ("FP", int(eb), int(sb))


def Float16():
    return FPSort(5, 11)


def Float32():
    return FPSort(8, 24)


def Float64():
    return FPSort(11, 53)


def Float128():
    return FPSort(15, 113)


def sort_text(s) -> str:
    if s[0] == "FP":
        return f"(_ FloatingPoint {s[1]} {s[2]})"
    if s[0] == "BV":
        return f"(_ BitVec {s[1]})"
    return s[0]


class Expr:
    """One node: ``op`` (SMT-LIB head, or the text of a leaf), ``args``, ``sort``; ``name`` for a
    declared constant. Operators follow z3's Python semantics (bit-vector ``<`` is signed, ``>>`` is
    arithmetic; Int mixed with Real is converted with ``to_real``)."""

    __slots__ = ("op", "args", "sort", "name", "__weakref__")

    def __init__(self, op, args, sort, name=None):
        self.op, self.args, self.sort, self.name = op, tuple(args), sort, name

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError("a symbolic SMT term has no truth value (use And/Or/If)")

    def __repr__(self):
        return _inline(self)

    def sexpr(self) -> str:
        return _inline(self)

    # --- arithmetic (BV, Int, Real) ---------------------------------------------------------
    def _bin(self, other, bv, ar, rev=False):
        a, b = _coerce(self, other)
        if rev:
            a, b = b, a
        if a.sort[0] == "BV":
            return Expr(bv, (a, b), a.sort)
        if bv is None or ar is None:
            raise TypeError(f"operator not defined on {a.sort[0]}")
        return Expr(ar, (a, b), a.sort)

    def __add__(self, o):
        return self._bin(o, "bvadd", "+")

    def __radd__(self, o):
        return self._bin(o, "bvadd", "+", True)

    def __sub__(self, o):
        return self._bin(o, "bvsub", "-")

    def __rsub__(self, o):
        return self._bin(o, "bvsub", "-", True)

    def __mul__(self, o):
        return self._bin(o, "bvmul", "*")

    def __rmul__(self, o):
        return self._bin(o, "bvmul", "*", True)

    def __mod__(self, o):
        a, b = _coerce(self, o)
        if a.sort == INT:
            return Expr("mod", (a, b), INT)
        if a.sort[0] == "BV":
            return Expr("bvsmod", (a, b), a.sort)
        raise TypeError("% needs Int or bit-vector terms")

    def __lshift__(self, o):
        return self._bin(o, "bvshl", None)

    def __rshift__(self, o):
        return self._bin(o, "bvashr", None)

    def __and__(self, o):
        return self._bin(o, "bvand", None)

    def __or__(self, o):
        return self._bin(o, "bvor", None)

    def __neg__(self):
        if self.sort[0] == "BV":
            return Expr("bvneg", (self,), self.sort)
        if self.sort[0] == "FP":
            return Expr("fp.neg", (self,), self.sort)
        return Expr("-", (self,), self.sort)

    # --- comparisons -----------------------------------------------------------------------
    def _cmp(self, o, bv, ar):
        a, b = _coerce(self, o)
        if a.sort[0] == "BV":
            return Expr(bv, (a, b), BOOL)
        return Expr(ar, (a, b), BOOL)

    def __lt__(self, o):
        return self._cmp(o, "bvslt", "<")

    def __le__(self, o):
        return self._cmp(o, "bvsle", "<=")

    def __gt__(self, o):
        return self._cmp(o, "bvsgt", ">")

    def __ge__(self, o):
        return self._cmp(o, "bvsge", ">=")

    def __eq__(self, o):
        a, b = _coerce(self, o)
        return Expr("=", (a, b), BOOL)

    def __ne__(self, o):
        a, b = _coerce(self, o)
        return Expr("distinct", (a, b), BOOL)


def _leaf(text, sort):
    return Expr(text, (), sort)


def _num_text(v, sort) -> str:
    v = Fraction(v)
    if sort == INT:
        if v.denominator != 1:
            raise ValueError(f"{v} is not an integer")
        n = v.numerator
        return str(n) if n >= 0 else f"(- {-n})"
    n, d = abs(v.numerator), v.denominator
    t = f"{n}.0" if d == 1 else f"(/ {n} {d})"
    return t if v >= 0 else f"(- {t})"


def _const_like(v, sort) -> Expr:
    """A Python number as a literal of ``sort`` (bit-vectors wrap modulo 2^W, as z3 does)."""
    if isinstance(v, bool):
        return BoolVal(v)
    if sort[0] == "BV":
        return BitVecVal(int(v), sort[1])
    if sort in (INT, REAL):
        if sort == INT and Fraction(v).denominator != 1:
            sort = REAL
        return _leaf(_num_text(v, sort), sort)
    raise TypeError(f"cannot use {v!r} as a {sort_text(sort)} literal")


def _coerce(a, b):
    """Make (a, b) terms of one sort, following z3: Python numbers take the other side's sort;
    Int with Real becomes Real (``to_real``)."""
    if not isinstance(a, Expr):
        a = _const_like(a, b.sort)
    if not isinstance(b, Expr):
        b = _const_like(b, a.sort)
    if a.sort == INT and b.sort == REAL:
        a = ToReal(a)
    elif a.sort == REAL and b.sort == INT:
        b = ToReal(b)
    if a.sort != b.sort:
        raise TypeError(f"sort mismatch: {sort_text(a.sort)} and {sort_text(b.sort)}")
    return a, b


# --------------------------------------------------------------------------- constants
def Bool(name):
    return Expr(name, (), BOOL, name=name)


def BoolVal(b: bool):
    return _leaf("true" if b else "false", BOOL)


def BitVec(name, w: int):
    return Expr(name, (), ("BV", int(w)), name=name)


def BitVecVal(v: int, w: int):
    w = int(w)
    v = int(v) % (1 << w)
    if w % 4 == 0:
        return _leaf("#x" + format(v, f"0{w // 4}x"), ("BV", w))
    return _leaf("#b" + format(v, f"0{w}b"), ("BV", w))


def Int(name):
    return Expr(name, (), INT, name=name)


def Real(name):
    return Expr(name, (), REAL, name=name)


def RealVal(v):
    return _leaf(_num_text(v, REAL), REAL)


def IntVal(v):
    return _leaf(_num_text(v, INT), INT)


def ToReal(x):
    return Expr("to_real", (x,), REAL)


def FP(name, sort):
    return Expr(name, (), sort, name=name)


def fp_bits(value: Fraction, eb: int, sb: int) -> int:
    """IEEE bit pattern of a dyadic rational that sort (eb, sb) holds exactly (ValueError otherwise).

    >>> hex(fp_bits(Fraction(3, 2), 8, 24))
    '0x3fc00000'
    >>> fp_bits(Fraction(1, 3), 8, 24)
    Traceback (most recent call last):
    ...
    ValueError: 1/3 is not a value of the sort (8, 24)
    """
    v = Fraction(value)
    sign = 1 if v < 0 else 0
    a = -v if sign else v
    m = sb - 1
    bias = (1 << (eb - 1)) - 1
    if a == 0:
        return sign << (eb + m)
    n, d = a.numerator, a.denominator
    if d & (d - 1):
        raise ValueError(f"{value} is not a value of the sort ({eb}, {sb})")
    e = n.bit_length() - d.bit_length()
    if Fraction(1 << e if e >= 0 else 1, 1 if e >= 0 else 1 << -e) > a:
        e -= 1
    emin = 1 - bias
    if e > bias:
        raise ValueError(f"{value} is not a value of the sort ({eb}, {sb}) (overflow)")
    q = max(e, emin) - m                       # quantum exponent
    scaled = a / (Fraction(2) ** q)
    if scaled.denominator != 1:
        raise ValueError(f"{value} is not a value of the sort ({eb}, {sb})")
    M = scaled.numerator
    if e < emin:                               # subnormal
        return (sign << (eb + m)) | M
    return (sign << (eb + m)) | ((e + bias) << m) | (M - (1 << m))


def _fp_leaf(bits: int, sort):
    _, eb, sb = sort
    m = sb - 1
    s = (bits >> (eb + m)) & 1
    E = (bits >> m) & ((1 << eb) - 1)
    f = bits & ((1 << m) - 1)
    return _leaf(f"(fp #b{s} #b{E:0{eb}b} #b{f:0{m}b})", sort)


def FPVal(value, exp=None, sort=None):
    """An exact FP literal: ``FPVal("num", "exp", sort)`` is num * 2^exp (z3's spelling); ``FPVal(x,
    sort)`` for a float, int or Fraction. A value the sort cannot hold exactly raises ValueError."""
    if sort is None:
        sort, exp = exp, None
    if isinstance(value, float):
        v = Fraction(value)
        if value == 0 and str(value).startswith("-"):
            return fpMinusZero(sort)
    else:
        v = Fraction(value)
    if exp is not None:
        v *= Fraction(2) ** int(exp)
    return _fp_leaf(fp_bits(v, sort[1], sort[2]), sort)


def fpNaN(sort):
    return _leaf(f"(_ NaN {sort[1]} {sort[2]})", sort)


def fpPlusInfinity(sort):
    return _leaf(f"(_ +oo {sort[1]} {sort[2]})", sort)


def fpMinusInfinity(sort):
    return _leaf(f"(_ -oo {sort[1]} {sort[2]})", sort)


def fpMinusZero(sort):
    return _leaf(f"(_ -zero {sort[1]} {sort[2]})", sort)


def RNE():
    return _leaf("RNE", RM)


def RNA():
    return _leaf("RNA", RM)


def RTZ():
    return _leaf("RTZ", RM)


def RTP():
    return _leaf("RTP", RM)


def RTN():
    return _leaf("RTN", RM)


# --------------------------------------------------------------------------- floating point
def _fp2(op, rm, x, y):
    return Expr(op, (rm, x, y), x.sort)


def fpAdd(rm, x, y):
    return _fp2("fp.add", rm, x, y)


def fpSub(rm, x, y):
    return _fp2("fp.sub", rm, x, y)


def fpMul(rm, x, y):
    return _fp2("fp.mul", rm, x, y)


def fpDiv(rm, x, y):
    return _fp2("fp.div", rm, x, y)


def fpFMA(rm, x, y, z):
    return Expr("fp.fma", (rm, x, y, z), x.sort)


def fpSqrt(rm, x):
    return Expr("fp.sqrt", (rm, x), x.sort)


def fpAbs(x):
    return Expr("fp.abs", (x,), x.sort)


def fpNeg(x):
    return Expr("fp.neg", (x,), x.sort)


def fpToFP(rm, x, sort):
    """Round an FP term into another FP sort (``(_ to_fp eb sb)``)."""
    if x.sort[0] != "FP":
        raise TypeError("fpToFP here converts floating-point terms only")
    return Expr(f"(_ to_fp {sort[1]} {sort[2]})", (rm, x), sort)


def _pred(op, *xs):
    return Expr(op, xs, BOOL)


def fpIsNaN(x):
    return _pred("fp.isNaN", x)


def fpIsInf(x):
    return _pred("fp.isInfinite", x)


def fpIsZero(x):
    return _pred("fp.isZero", x)


def fpIsNegative(x):
    return _pred("fp.isNegative", x)


def fpIsPositive(x):
    return _pred("fp.isPositive", x)


def fpEQ(x, y):
    return _pred("fp.eq", x, y)


def fpLT(x, y):
    return _pred("fp.lt", x, y)


def fpLEQ(x, y):
    return _pred("fp.leq", x, y)


def fpGT(x, y):
    return _pred("fp.gt", x, y)


def fpGEQ(x, y):
    return _pred("fp.geq", x, y)


# --------------------------------------------------------------------------- booleans, bit-vectors
def _flat(args):
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        return list(args[0])
    return list(args)


def And(*args):
    xs = _flat(args)
    if not xs:
        return BoolVal(True)
    return xs[0] if len(xs) == 1 else Expr("and", xs, BOOL)


def Or(*args):
    xs = _flat(args)
    if not xs:
        return BoolVal(False)
    return xs[0] if len(xs) == 1 else Expr("or", xs, BOOL)


def Not(x):
    return Expr("not", (x,), BOOL)


def Implies(a, b):
    return Expr("=>", (a, b), BOOL)


def If(c, a, b):
    if not isinstance(a, Expr) and not isinstance(b, Expr):
        raise TypeError("If needs at least one term branch")
    a, b = _coerce(a, b)
    return Expr("ite", (c, a, b), a.sort)


def _bvrel(op, a, b):
    a, b = _coerce(a, b)
    return Expr(op, (a, b), BOOL)


def UGE(a, b):
    return _bvrel("bvuge", a, b)


def UGT(a, b):
    return _bvrel("bvugt", a, b)


def ULE(a, b):
    return _bvrel("bvule", a, b)


def ULT(a, b):
    return _bvrel("bvult", a, b)


def LShR(a, b):
    a, b = _coerce(a, b)
    return Expr("bvlshr", (a, b), a.sort)


def UDiv(a, b):
    a, b = _coerce(a, b)
    return Expr("bvudiv", (a, b), a.sort)


def URem(a, b):
    a, b = _coerce(a, b)
    return Expr("bvurem", (a, b), a.sort)


def is_expr(x) -> bool:
    return isinstance(x, Expr)


# --------------------------------------------------------------------------- printing
def _inline(e: Expr, names=None) -> str:
    """Text of one term (iterative; shared nodes in ``names`` print as their name)."""
    names = names or {}
    out: dict[int, str] = {}
    stack = [(e, False)]
    while stack:
        n, done = stack.pop()
        if id(n) in out:
            continue
        if n is not e and id(n) in names:
            out[id(n)] = names[id(n)]
            continue
        if not n.args:
            out[id(n)] = n.op
            continue
        if not done:
            stack.append((n, True))
            stack.extend((a, False) for a in n.args if id(a) not in out)
            continue
        out[id(n)] = "(" + n.op + " " + " ".join(
            names[id(a)] if id(a) in names and a is not e else out[id(a)] for a in n.args) + ")"
    return out[id(e)]


def _logic(sorts: set) -> str:
    kinds = {s[0] for s in sorts}
    if kinds & {"Int", "Real"}:
        if kinds & {"FP", "BV"}:
            return "ALL"
        return {frozenset({"Int"}): "QF_LIA", frozenset({"Real"}): "QF_LRA"}.get(
            frozenset(kinds & {"Int", "Real"}), "QF_LIRA")
    if "FP" in kinds:
        return "QF_BVFP" if "BV" in kinds else "QF_FP"
    return "QF_BV"


def query_sorts(assertions) -> set:
    """Every sort the terms use (what an engine must support to decide them): ``("FP", eb, sb)``,
    ``("BV", w)``, ``("Bool",)``, ``("Int",)``, ``("Real",)``, ``("RoundingMode",)``.

    >>> sorted(query_sorts([UGT(BitVec("x", 4), 3), Real("r") > 0]))
    [('BV', 4), ('Bool',), ('Real',)]
    """
    out, seen = set(), set()
    stack = list(assertions)
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        out.add(n.sort)
        stack.extend(n.args)
    return out


def to_smt2(assertions, header: str = "", get_model: bool = False) -> str:
    """The SMT-LIB2 script asserting every term: ``set-logic``, declarations of the free constants
    (in order of first appearance), shared subterms as ``define-fun``, one ``assert`` per term,
    ``check-sat`` (and ``get-model``)."""
    roots = list(assertions)
    order: list[Expr] = []          # post-order: children before parents
    refs: dict[int, int] = {}
    seen: set[int] = set()
    for r in roots:
        stack = [(r, False)]
        while stack:
            n, done = stack.pop()
            if done:
                order.append(n)
                continue
            refs[id(n)] = refs.get(id(n), 0) + 1
            if id(n) in seen:
                continue
            seen.add(id(n))
            stack.append((n, True))
            stack.extend((a, False) for a in reversed(n.args))
    decls: list[Expr] = []
    sorts: set = set()
    depth: dict[int, int] = {}
    names: dict[int, str] = {}
    defs: list[str] = []
    for n in order:
        sorts.add(n.sort)
        if n.name is not None:
            if n.name not in {d.name for d in decls}:
                decls.append(n)
            continue
        if not n.args:
            depth[id(n)] = 0
            continue
        d = 1 + max(0 if id(a) in names else depth.get(id(a), 0) for a in n.args)
        depth[id(n)] = d
        if refs.get(id(n), 0) > 1 or d > MAX_INLINE_DEPTH:
            name = f"_t{len(defs)}"
            defs.append(f"(define-fun {name} () {sort_text(n.sort)} {_inline(n, names)})")
            names[id(n)] = name
    lines = [f"; {ln}" for ln in header.splitlines()]
    lines.append(f"(set-logic {_logic(sorts)})")
    seen_names = set()
    for dc in decls:
        if dc.name in seen_names:
            continue
        seen_names.add(dc.name)
        lines.append(f"(declare-fun {dc.name} () {sort_text(dc.sort)})")
    lines += defs
    for r in roots:
        lines.append(f"(assert {names[id(r)] if id(r) in names else _inline(r, names)})")
    lines.append("(check-sat)")
    if get_model:
        lines.append("(get-model)")
    return "\n".join(lines) + "\n"
