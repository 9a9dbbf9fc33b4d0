"""Exact semantics of claims: exact rounding of rationals, claim construction (name resolution,
constant folding, denominator clearing) and an exact point evaluator.

The exact evaluator is the reference every engine answers to: each counterexample is replayed
through it before it is reported, and the exhaustive engine falls back to it wherever float64
evaluation is not provably exact.

Values are :class:`fractions.Fraction` (finite) or Python floats (+-inf, NaN) following IEEE 754.
``sqrt`` of a non-square is irrational; it is bracketed by rational intervals refined until every
rounding and comparison is decided (or :class:`Undecided` is raised, giving an *unknown* verdict).

Denominator clearing: a comparison ``L op R`` whose non-dyadic constants appear multiplicatively
(e.g. ``u/(1+u) * abs(a*b)``) is multiplied on both sides by the odd integer D = lcm of their
denominators' odd parts (D > 0 keeps every order relation), pushing D into sums, negations,
abs/min/max and constant factors. The result is equivalent and contains only dyadic constants where
possible, which lets float64 and SMT floating-point sorts represent it exactly.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from fractions import Fraction

from qbound.numeric.errors import InputError
from qbound.numeric.formats import FloatFormat, check_rounding, floor_log2, get_format

from qbound.proofs.claims import MAX_DECIMAL_EXP, Node, parse_expr, parse_number, to_text, variables
from qbound.proofs.claimwalk import NodeVisitor, same_node

INF = float("inf")
NAN = float("nan")


class Undecided(Exception):
    """The exact evaluator could not decide (irrational values too close to tell apart)."""


# ---------------------------------------------------------------------------- exact rounding
def round_fraction(x, fmt: FloatFormat, mode: str, away: bool | None = None):
    """Correctly round the exact rational ``x`` into ``fmt`` (quantize's semantics, overflow "ieee").

    For ``mode == "sr"`` pass ``away``: False rounds toward zero, True away from zero (the two
    possible stochastic outcomes). Returns a Fraction, or +-inf / NaN on overflow.

    This oracle is independent of ``qbound.numeric.rounding.quantize_exact`` on purpose (written
    separately, from the format's definition): the tests compare the two, so a shared bug would be
    needed to make both wrong the same way. Do not merge them.
    """
    if isinstance(x, float):
        return x  # inf/nan stay (quantize semantics for non-finite inputs, except formats w/o inf)
    x = Fraction(x)
    if x == 0:
        return Fraction(0)
    neg = x < 0
    a = -x if neg else x
    m, emin = fmt.man_bits, fmt.emin
    e = floor_log2(a)
    if e < emin:
        qe = (emin - m) if fmt.subnormals else emin
    else:
        qe = e - m
    q = Fraction(2) ** qe
    t = a / q
    k = t.numerator // t.denominator
    r = t - k
    if mode == "rne":
        up = r > Fraction(1, 2) or (r == Fraction(1, 2) and k % 2 == 1)
    elif mode == "rna":
        up = r >= Fraction(1, 2)
    elif mode == "rtz":
        up = False
    elif mode == "rup":
        up = r > 0 and not neg
    elif mode == "rdn":
        up = r > 0 and neg
    elif mode == "sr":
        if away is None:
            raise ValueError("sr rounding needs away=True/False")
        up = r > 0 and bool(away)
    else:
        check_rounding(mode)
        raise ValueError(mode)
    val = (k + int(up)) * q
    if val > fmt.max_finite:
        if fmt.policy == "none":
            val = fmt.max_finite
        else:
            goes_away = (mode in ("rne", "rna")) or (mode == "sr" and away) or \
                (mode == "rup" and not neg) or (mode == "rdn" and neg)
            if goes_away:
                big = INF if fmt.has_inf else NAN
                return -big if neg else big
            val = fmt.max_finite
    return -val if neg else val


def is_dyadic(c: Fraction) -> bool:
    d = c.denominator
    return d & (d - 1) == 0


# ---------------------------------------------------------------------------- claims
@dataclass
class Claim:
    """A parsed, resolved and normalised claim, ready for any engine.

    ``fmt`` is the target format of ``rnd``; ``var_fmt`` the format the variables range over
    (default ``fmt``). ``expr`` and ``hyps`` are normalised trees; ``source`` keeps the user text.
    """

    source: str
    assume: tuple
    fmt: FloatFormat
    rounding: str
    var_fmt: FloatFormat
    consts: dict
    expr: Node
    hyps: tuple
    vars: list = field(default_factory=list)
    report_expr: Node | None = None   # names resolved and constants folded, no denominator clearing
    raw_hyps: tuple = ()              # hypotheses resolved and folded, before any clearing
    #: None: every finite value of var_fmt; "significands": the non-zero values with |x| in [1, 2)
    #: (a scale-invariance reduction, :mod:`proofs.scaling`)
    var_domain: str | None = None
    var_order: tuple = ()             # variables in the order the claim (then the hypotheses) names them

    def describe(self) -> dict:
        return {
            "claim": self.source, "assume": list(self.assume), "format": self.fmt.name,
            "rounding": self.rounding, "var_format": self.var_fmt.name,
            "consts": {k: f"{v.numerator}/{v.denominator}" if v.denominator != 1 else str(v.numerator)
                       for k, v in self.consts.items()},
            "normalized": to_text(self.expr), "normalized_assume": [to_text(h) for h in self.hyps],
        }


def build_claim(claim, fmt, rounding="rne", *, assume=(), consts=None, var_format=None) -> Claim:
    """Parse and normalise a claim (see module docstring). Raises InputError on bad input."""
    fmt = get_format(fmt)
    check_rounding(rounding)
    var_fmt = get_format(var_format) if var_format is not None else fmt
    cdict = {}
    for k, v in (consts or {}).items():
        if not str(k).isidentifier() or str(k).startswith("_"):
            raise InputError(f"bad constant name {k!r}")
        try:
            if isinstance(v, str):
                try:
                    cdict[str(k)] = parse_number(v) if "/" not in v else Fraction(v)
                except ValueError as exc:
                    if "exponent" in str(exc) or "long" in str(exc):
                        raise
                    cdict[str(k)] = _const_expr(v, fmt, rounding, cdict, k)   # e.g. rnd(0.999), 1 - 2**-26
            elif isinstance(v, float) and not math.isfinite(v):
                raise ValueError("not finite")
            else:
                cdict[str(k)] = v if isinstance(v, Fraction) else Fraction(v)
            if abs(cdict[str(k)]) and abs(floor_log2(abs(cdict[str(k)]))) > 4 * MAX_DECIMAL_EXP:
                raise ValueError("exponent too large")
        except (ValueError, TypeError, ZeroDivisionError) as exc:
            raise InputError(f"bad constant value {v!r} for {k}: {exc}") from None
    if isinstance(assume, str):
        assume = (assume,)
    names = _name_values(fmt, rounding, cdict)
    expr = parse_expr(claim, cdict)
    hyps = tuple(parse_expr(a, cdict) for a in assume)
    report = _fold(_resolve(expr, names), fmt, rounding)
    for tree, text in [(expr, claim)] + list(zip(hyps, assume)):
        _check_rnd_constants(tree, names, fmt, rounding, text)
    expr = normalize(expr, names, fmt, rounding)
    hyps = tuple(normalize(h, names, fmt, rounding) for h in hyps)
    raw = tuple(_fold(_resolve(parse_expr(a, cdict), names), fmt, rounding) for a in assume)
    return Claim(claim, tuple(assume), fmt, rounding, var_fmt, cdict, expr, hyps, variables(expr, *hyps),
                 report_expr=report, raw_hyps=raw, var_order=_order(expr, *hyps))


def _order(*nodes) -> tuple:
    seen = []
    for nd in nodes:
        for x in nd.walk():
            if x.kind == "var" and x.value not in seen:
                seen.append(x.value)
    return tuple(seen)


def _const_expr(text, fmt, rounding, known, name) -> Fraction:
    """Value of a constant given as an expression such as ``rnd(0.999)`` (rounded into ``fmt``)."""
    if rounding == "sr":
        raise ValueError("rnd() in a constant has no single value under sr; give the rounded value")
    node = _fold(_resolve(parse_expr(text, known, want_bool=False), _name_values(fmt, rounding, known)), fmt, rounding)
    if node.kind != "num":
        raise ValueError(f"{text!r} is not a finite constant expression")
    return node.value


def nearest_values(c: Fraction, fmt) -> tuple:
    """The format values just below and above ``c`` (None where there is none).

    >>> from qbound.numeric.formats import get_format
    >>> [fmt_value(v) for v in nearest_values(Fraction(999, 1000), get_format("bf16"))]
    ['0.99609375', '1']
    """
    lo, hi = round_fraction(c, fmt, "rdn"), round_fraction(c, fmt, "rup")
    return (None if isinstance(lo, float) else lo), (None if isinstance(hi, float) else hi)


def _decimal(c: Fraction) -> str:
    """Short decimal text of a rational with a terminating decimal expansion, else a/b."""
    d = c.denominator
    k = 0
    while d % 10 == 0 or d % 5 == 0 or d % 2 == 0:
        if d % 10 == 0:
            d //= 10
        elif d % 5 == 0:
            d //= 5
        else:
            d //= 2
        k += 1
        if k > 60:
            break
    if d == 1:
        return str(float(c)) if len(str(float(c))) < 20 and Fraction(str(float(c))) == c else f"{c.numerator}/{c.denominator}"
    return f"{c.numerator}/{c.denominator}"


def _is_format_value(c: Fraction, fmt) -> bool:
    r = round_fraction(c, fmt, "rtz")
    return not isinstance(r, float) and r == c


def _check_rnd_constants(n: Node, names, fmt, rounding, text) -> None:
    """A constant *operand* inside ``rnd`` (a variable-free subterm next to variables) must be a
    value of the format, or at least dyadic (then it is exact for every engine). A non-dyadic one
    (``0.999``, ``1 - 0.9``) is refused, naming the nearest format values and the explicit form
    ``rnd(...)``: in code such a constant is stored in the format before it is used."""
    from qbound.proofs.claims import _caret
    for r in (x for x in n.walk() if x.kind == "call" and x.value == "rnd"):
        stack = [r.args[0]]
        while stack:
            e = stack.pop()
            if e.kind == "call" and e.value == "rnd":
                continue  # checked as its own rnd node
            if not variables(e):
                if e is r.args[0]:
                    continue  # rnd(constant): rounded explicitly
                f = _fold(_resolve(e, names), fmt, rounding)
                if f.kind == "num" and not is_dyadic(f.value) and not _is_format_value(f.value, fmt):
                    lo, hi = nearest_values(f.value, fmt)
                    near = " and ".join(f"{fmt_value(v)} ({fmt.hex(fmt.encode(float(v)))})" for v in (lo, hi)
                                        if v is not None)
                    src = to_text(e)
                    val = f.value if f.value.denominator > 10 ** 6 else fmt_value(f.value) if is_dyadic(f.value) \
                        else _decimal(f.value)
                    raise _caret(text, e.pos, f"constant {src} = {val} inside rnd() is not a "
                                 f"{fmt.name} value (nearest: {near}); round it explicitly, e.g. rnd({src}) in "
                                 f"the claim or --const NAME=rnd(VALUE), or use a {fmt.name} value")
                continue
            stack.extend(reversed(e.args))


def _name_values(fmt, rounding, consts) -> dict:
    d = {"u": fmt.unit_roundoff(rounding), "tiny": fmt.min_normal, "huge": fmt.max_finite,
         "minsub": fmt.min_subnormal, "p": Fraction(fmt.p)}
    d.update(consts)
    return d


def normalize(n: Node, names: dict, fmt, rounding) -> Node:
    """Resolve names, fold constants, clear denominators in comparisons."""
    n = _resolve(n, names)
    n = _fold(n, fmt, rounding)
    n = _recip(n)
    n = _clear(n)
    n = _clear_vardiv(n)
    return n


def _recip(n: Node) -> Node:
    """``x / c`` with a non-zero constant c outside rnd becomes ``x * (1/c)`` (exact), so the
    denominator clearing below sees it. Inside rnd the division stays (it is the rounded op)."""
    if not n.args:
        return n
    if n.kind == "call" and n.value == "rnd":
        return n
    args = tuple(_recip(a) for a in n.args)
    if n.kind == "div" and args[1].kind == "num" and args[1].value != 0:
        return Node("mul", (args[0], Node("num", value=1 / args[1].value, pos=args[1].pos)), pos=n.pos)
    return Node(n.kind, args, n.value, n.pos)


def _outer_divs(n: Node):
    """Exact divisions (not inside rnd, not already resolved at a zero denominator) by a term with
    variables."""
    if n.kind == "call" and n.value == "rnd":
        return
    if n.kind == "div" and n.value != "y0" and variables(n.args[1]):
        yield n
    for a in n.args:
        yield from _outer_divs(a)


def _contains(n: Node, y: Node) -> bool:
    return any(same_node(d.args[1], y) for d in _outer_divs(n))


def _push_var(n: Node, y: Node, sgn: int) -> Node:
    """A node equal to ``n * (sgn*y)`` where sgn*y > 0, cancelling the divisions by y."""
    yy = y if sgn > 0 else Node("neg", (y,), pos=y.pos)
    k = n.kind
    if k == "div" and n.value != "y0" and same_node(n.args[1], y):
        return n.args[0] if sgn > 0 else Node("neg", (n.args[0],), pos=n.pos)
    if not _contains(n, y):
        return Node("mul", (n, yy), pos=n.pos)
    if k in ("add", "sub") or k == "neg" or (k == "call" and n.value in ("abs", "min", "max")):
        return Node(k, tuple(_push_var(a, y, sgn) for a in n.args), n.value, n.pos)
    if k == "mul":
        a, b = n.args
        if _contains(a, y):
            return Node("mul", (_push_var(a, y, sgn), b), pos=n.pos)
        return Node("mul", (a, _push_var(b, y, sgn)), pos=n.pos)
    if k == "div":
        return Node("div", (_push_var(n.args[0], y, sgn), n.args[1]), n.value, n.pos)
    return Node("mul", (n, yy), pos=n.pos)


def _mark_zero(n: Node, y: Node) -> Node:
    if n.kind == "call" and n.value == "rnd":
        return n
    args = tuple(_mark_zero(a, y) for a in n.args)
    if n.kind == "div" and same_node(n.args[1], y):
        return Node("div", args, "y0", n.pos)
    return Node(n.kind, args, n.value, n.pos) if n.args else n


def _clear_vardiv(n: Node, depth: int = 0) -> Node:
    """Exact division by a term y with variables, outside rnd, multiplied out with the sign cases:
    ``L op R`` becomes ``(y > 0 and yL op yR) or (y < 0 and (-y)L op (-y)R) or (y == 0 and L0 op R0)``
    where multiplying by the positive sgn*y keeps every order relation, and the y == 0 branch keeps
    IEEE division by zero (marked ``value="y0"``: engines may evaluate it as a division whose
    denominator is zero, which is exact: +-inf or NaN)."""
    if n.kind in ("and", "or", "not"):
        return Node(n.kind, tuple(_clear_vardiv(a, depth) for a in n.args), n.value, n.pos)
    if n.kind != "cmp" or depth > 4:
        return n
    divs = [d for a in n.args for d in _outer_divs(a)]
    if not divs:
        return n
    y = divs[0].args[1]
    zero = Node("num", value=Fraction(0), pos=n.pos)
    pos_c = Node("cmp", tuple(_push_var(a, y, 1) for a in n.args), n.value, n.pos)
    neg_c = Node("cmp", tuple(_push_var(a, y, -1) for a in n.args), n.value, n.pos)
    zer_c = Node("cmp", tuple(_mark_zero(a, y) for a in n.args), n.value, n.pos)
    branches = []
    for guard, c in ((">", pos_c), ("<", neg_c), ("==", zer_c)):
        c = _clear(c)
        branches.append(Node("and", (Node("cmp", (y, zero), (guard,), n.pos), _clear_vardiv(c, depth + 1)), pos=n.pos))
    return Node("or", tuple(branches), pos=n.pos)


def _resolve(n: Node, names) -> Node:
    if n.kind == "name":
        return Node("num", value=Fraction(names[n.value]), pos=n.pos)
    if not n.args:
        return n
    return Node(n.kind, tuple(_resolve(a, names) for a in n.args), n.value, n.pos)


def _fold(n: Node, fmt, rounding) -> Node:
    if not n.args:
        return n
    args = tuple(_fold(a, fmt, rounding) for a in n.args)
    n = Node(n.kind, args, n.value, n.pos)
    if n.is_bool or not all(a.kind == "num" for a in args):
        return n
    if n.kind == "call" and n.value == "rnd" and rounding == "sr":
        return n
    try:
        v = _eval_point(n, {}, fmt, rounding, {}, 0)
    except (Undecided, ZeroDivisionError, _Irrational):
        return n
    if isinstance(v, Fraction):
        return Node("num", value=v, pos=n.pos)
    return n


def _odd_part(d: int) -> int:
    while d % 2 == 0:
        d //= 2
    return d


def _linear_consts(n: Node, out: list):
    """Collect constants in positions where a positive factor can be pushed (see _push)."""
    k = n.kind
    if k == "num":
        out.append(n.value)
    elif k in ("add", "sub", "neg") or (k == "call" and n.value in ("abs", "min", "max")):
        for a in n.args:
            _linear_consts(a, out)
    elif k == "mul":
        for a in n.args:
            _linear_consts(a, out)
    elif k == "div" and n.args[1].kind == "num" and n.args[1].value != 0:
        out.append(1 / n.args[1].value)
        _linear_consts(n.args[0], out)


def _push(D: Fraction, n: Node) -> Node:
    """Return a node equal to D * n (D > 0), pushing D towards constants."""
    k = n.kind
    if k == "num":
        return Node("num", value=D * n.value, pos=n.pos)
    if k in ("add", "sub"):
        return Node(k, (_push(D, n.args[0]), _push(D, n.args[1])), pos=n.pos)
    if k == "neg" or (k == "call" and n.value in ("abs", "min", "max")):
        return Node(k, tuple(_push(D, a) for a in n.args), n.value, n.pos)
    if k == "mul":
        a, b = n.args
        ca, cb = [], []
        _linear_consts(a, ca)
        _linear_consts(b, cb)
        if any(not is_dyadic(c) for c in ca):
            return Node("mul", (_push(D, a), b), pos=n.pos)
        if any(not is_dyadic(c) for c in cb):
            return Node("mul", (a, _push(D, b)), pos=n.pos)
    if k == "div" and n.args[1].kind == "num" and n.args[1].value != 0:
        return _push(D / n.args[1].value, n.args[0])
    if D == 1:
        return n
    return Node("mul", (Node("num", value=D, pos=n.pos), n), pos=n.pos)


def _clear(n: Node) -> Node:
    if n.kind in ("and", "or", "not"):
        return Node(n.kind, tuple(_clear(a) for a in n.args), n.value, n.pos)
    if n.kind != "cmp":
        return n
    cs = []
    for a in n.args:
        _linear_consts(a, cs)
    D = 1
    for c in cs:
        if c != 0:
            D = math.lcm(D, _odd_part(c.denominator))
    if D == 1:
        return n
    return Node("cmp", tuple(_push(Fraction(D), a) for a in n.args), n.value, n.pos)


# ---------------------------------------------------------------------------- point evaluation
class _Irrational(Exception):
    pass


def _isspecial(v) -> bool:
    return isinstance(v, float)


def _f(v) -> float:
    return v if isinstance(v, float) else float(v)


def _sqrt_bracket(x: Fraction, bits: int):
    """Exact sqrt if x is a square of a rational, else (lo, hi) with hi - lo <= 2^-bits * hi."""
    n, d = x.numerator, x.denominator
    rn, rd = math.isqrt(n), math.isqrt(d)
    if rn * rn == n and rd * rd == d:
        return Fraction(rn, rd), None
    # sqrt(n/d) = sqrt(n*d)/d; scale by 4^k
    s = n * d
    k = max(0, bits - s.bit_length() // 2 + 2)
    r = math.isqrt(s << (2 * k))
    return Fraction(r, d << k), Fraction(r + 1, d << k)


def _eval_point(n: Node, env, fmt, rounding, choice, bits):
    """Evaluate a node exactly. ``bits`` > 0 allows sqrt brackets (returns intervals as tuples)."""
    return _Point(env, fmt, rounding, choice, bits).eval(n)


def _negzero(v) -> bool:
    """Is ``v`` the float -0.0 (a variable whose pattern is -0; exact values carry no sign)?"""
    return isinstance(v, float) and v == 0.0 and math.copysign(1.0, v) < 0


def _z(v):
    """A signed float zero as the exact zero (every operation but division, a negative power and
    negation ignores the sign of zero)."""
    return Fraction(0) if isinstance(v, float) and v == 0.0 else v


def _binop(k, a, b, exact):
    """``a k b`` (k one of add sub mul div) on exact operands (signed zeros already made exact):
    the exact rational ``exact(a, b)``, or IEEE float arithmetic when an operand is +-inf or NaN
    (a finite float result is returned as the exact Fraction of that float)."""
    if _isspecial(a) or _isspecial(b) or (k == "div" and b == 0):
        fa, fb = _f(a), _f(b)
        try:
            r = _fdiv(fa, fb) if k == "div" else _FLOAT_OPS[k](fa, fb)
        except OverflowError:
            r = NAN
        return r if (math.isinf(r) or math.isnan(r)) else Fraction(r)
    return exact(a, b)


_FLOAT_OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}


class _Point(NodeVisitor):
    """The exact evaluator at one point: ``[[n]]`` is a Fraction, +-inf/NaN (IEEE 754), the float
    -0.0 only for a variable with the pattern -0, a bool for a boolean node, or with ``bits`` > 0 an
    interval ``(lo, hi)`` of rationals around an irrational sqrt. Each handler gets the node and its
    operands' values; an operand that is an interval sends the node to :class:`_Interval`."""

    def __init__(self, env, fmt, rounding, choice, bits):
        self.env, self.fmt, self.rounding, self.choice, self.bits = env, fmt, rounding, choice, bits
        self._iv = None

    def eval(self, n: Node):
        args = [self.eval(a) for a in n.args]
        if any(isinstance(a, tuple) for a in args):
            if self._iv is None:
                self._iv = _Interval(self.fmt, self.rounding, self.choice)
            return self._iv.visit(n, [_z(a) for a in args])
        return self.visit(n, args)

    # leaves
    def visit_num(self, n, args):
        return n.value

    def visit_var(self, n, args):
        return self.env[n.value]

    def visit_name(self, n, args):
        raise ValueError("unresolved name")

    # exact arithmetic (IEEE 754 for +-inf, NaN and division by zero)
    def visit_add(self, n, args):
        return _binop("add", _z(args[0]), _z(args[1]), lambda a, b: a + b)

    def visit_sub(self, n, args):
        return _binop("sub", _z(args[0]), _z(args[1]), lambda a, b: a - b)

    def visit_mul(self, n, args):
        return _binop("mul", _z(args[0]), _z(args[1]), lambda a, b: a * b)

    def visit_div(self, n, args):
        if args[1] == 0:
            # IEEE 754: x/(+0) = +-inf by the sign of x, x/(-0) the opposite, 0/0 = NaN; a zero
            # denominator is -0 only as the float -0.0 (a variable with the pattern -0), else +0
            a = _z(args[0])
            if (_isspecial(a) and math.isnan(a)) or a == 0:
                return NAN
            return INF if (a > 0) != _negzero(args[1]) else -INF
        return _binop("div", _z(args[0]), _z(args[1]), lambda a, b: a / b)

    def visit_neg(self, n, args):
        if isinstance(args[0], float) and args[0] == 0.0:
            return -args[0]   # keeps the sign of zero: -(+0) = -0
        return -_z(args[0])

    def visit_pow(self, n, args):
        if n.value < 0 and args[0] == 0:
            return -INF if (_negzero(args[0]) and n.value % 2 == 1) else INF
        a, e = _z(args[0]), n.value
        if _isspecial(a):
            return _f(a) ** e if not (a == 0) else NAN
        if e < 0 and a == 0:
            return INF
        return a ** e

    # calls
    def visit_call_abs(self, n, args):
        return abs(_z(args[0]))

    def visit_call_min(self, n, args):
        a, b = _z(args[0]), _z(args[1])
        if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
            return NAN
        return min(a, b)

    def visit_call_max(self, n, args):
        a, b = _z(args[0]), _z(args[1])
        if (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
            return NAN
        return max(a, b)

    def visit_call_sqrt(self, n, args):
        a = _z(args[0])
        if _isspecial(a):
            return math.sqrt(a) if a > 0 else NAN
        if a < 0:
            return NAN
        r, hi = _sqrt_bracket(a, max(self.bits, 1))
        if hi is None:
            return r
        if self.bits <= 0:
            raise _Irrational()
        return (r, hi)

    def visit_call_ulp(self, n, args):
        a = _z(args[0])
        if _isspecial(a):
            return NAN
        return self.fmt.ulp(a)

    def visit_call_rnd(self, n, args):
        a = _z(args[0])
        away = self.choice.get(id(n)) if self.rounding == "sr" else None
        if self.rounding == "sr" and away is None:
            away = False
        return round_fraction(a, self.fmt, self.rounding, away)

    # booleans
    def visit_cmp(self, n, args):
        return _cmp(n, [_z(a) for a in args])

    def visit_and(self, n, args):
        return all(args)

    def visit_or(self, n, args):
        return any(args)

    def visit_not(self, n, args):
        return not args[0]


def _fdiv(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or math.isnan(a):
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)
    return a / b


_OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b}


def _cmp(n, args):
    for op, a, b in zip(n.value, args, args[1:]):
        if isinstance(a, tuple) or isinstance(b, tuple):
            res = _cmp_iv(op, a, b)
        else:
            res = _OPS[op](_f(a) if _isspecial(b) else a, _f(b) if _isspecial(a) else b) \
                if (_isspecial(a) or _isspecial(b)) else _OPS[op](a, b)
        if not res:
            return False
    return True


def _iv(x):
    return x if isinstance(x, tuple) else (x, x)


def _cmp_iv(op, a, b):
    (alo, ahi), (blo, bhi) = _iv(a), _iv(b)
    if any(_isspecial(v) for v in (alo, ahi, blo, bhi)):
        raise Undecided("interval with special value")
    if ahi < blo:
        lt, eq = True, False
    elif alo > bhi:
        lt, eq = False, False
    else:
        raise Undecided("comparison of values too close to separate")
    gt = not lt
    return {"<": lt, "<=": lt, ">": gt, ">=": gt, "==": eq, "!=": not eq}[op]


class _Interval(NodeVisitor):
    """Interval arithmetic for a node with an operand known only as a rational interval (an
    irrational sqrt): each handler gets the operands (points or ``(lo, hi)``) and returns an
    interval that contains the exact value, an exact point where the interval decides it (a
    rounding whose two ends round alike), a bool, or raises :class:`Undecided`."""

    def __init__(self, fmt, rounding, choice):
        self.fmt, self.rounding, self.choice = fmt, rounding, choice

    @staticmethod
    def _ivs(args):
        ivs = [_iv(a) for a in args]
        if any(_isspecial(v) for iv in ivs for v in iv):
            raise Undecided("interval with special value")
        return ivs

    def _cannot(self, n, args):
        self._ivs(args)
        raise Undecided(f"cannot bracket {n.kind}")

    visit_num = visit_var = visit_name = _cannot   # leaves have no operands: never reached

    def visit_add(self, n, args):
        ivs = self._ivs(args)
        return (ivs[0][0] + ivs[1][0], ivs[0][1] + ivs[1][1])

    def visit_sub(self, n, args):
        ivs = self._ivs(args)
        return (ivs[0][0] - ivs[1][1], ivs[0][1] - ivs[1][0])

    def visit_neg(self, n, args):
        ivs = self._ivs(args)
        return (-ivs[0][1], -ivs[0][0])

    def visit_mul(self, n, args):
        ivs = self._ivs(args)
        ps = [x * y for x in ivs[0] for y in ivs[1]]
        return (min(ps), max(ps))

    def visit_div(self, n, args):
        ivs = self._ivs(args)
        lo, hi = ivs[1]
        if lo <= 0 <= hi:
            raise Undecided("division by an interval containing zero")
        ps = [x / y for x in ivs[0] for y in ivs[1]]
        return (min(ps), max(ps))

    def visit_pow(self, n, args):
        ivs = self._ivs(args)
        e = n.value
        lo, hi = ivs[0]
        if e < 0 and lo <= 0 <= hi:
            raise Undecided("negative power of an interval containing zero")
        ps = [lo ** e, hi ** e]
        if e % 2 == 0 and lo < 0 < hi:
            ps.append(Fraction(0))
        return (min(ps), max(ps))

    def visit_call_abs(self, n, args):
        lo, hi = self._ivs(args)[0]
        if lo >= 0:
            return (lo, hi)
        if hi <= 0:
            return (-hi, -lo)
        return (Fraction(0), max(-lo, hi))

    def visit_call_min(self, n, args):
        (a0, a1), (b0, b1) = self._ivs(args)
        return (min(a0, b0), min(a1, b1))

    def visit_call_max(self, n, args):
        (a0, a1), (b0, b1) = self._ivs(args)
        return (max(a0, b0), max(a1, b1))

    def visit_call_sqrt(self, n, args):
        lo, hi = self._ivs(args)[0]
        if lo < 0:
            raise Undecided("sqrt of an interval reaching below zero")
        l2 = _sqrt_bracket(lo, 200)
        h2 = _sqrt_bracket(hi, 200)
        return (l2[0], h2[1] if h2[1] is not None else h2[0])

    def visit_call_rnd(self, n, args):
        lo, hi = self._ivs(args)[0]
        away = self.choice.get(id(n), False) if self.rounding == "sr" else None
        r1 = round_fraction(lo, self.fmt, self.rounding, away)
        r2 = round_fraction(hi, self.fmt, self.rounding, away)
        if r1 == r2 or (not _isspecial(r1) and not _isspecial(r2) and r1 == r2):
            return r1
        raise Undecided("rounding of an irrational value near a rounding boundary")

    def visit_call_ulp(self, n, args):
        lo, hi = self._ivs(args)[0]
        u1, u2 = self.fmt.ulp(lo) if lo != 0 else None, self.fmt.ulp(hi)
        if lo > 0 and u1 == u2:
            return u1
        raise Undecided("ulp of an interval")

    def visit_cmp(self, n, args):
        return _cmp(n, args)

    def visit_and(self, n, args):
        return all(args)

    def visit_or(self, n, args):
        return any(args)

    def visit_not(self, n, args):
        return not args[0]


def rnd_nodes(n: Node) -> list:
    return [x for x in n.walk() if x.kind == "call" and x.value == "rnd"]


def evaluate(node: Node, env: dict, fmt, rounding, choice=None):
    """Exact value of ``node`` at ``env`` (Fractions); refines sqrt brackets up to 1600 bits."""
    choice = choice or {}
    try:
        return _eval_point(node, env, fmt, rounding, choice, 0)
    except _Irrational:
        pass
    for bits in (64, 200, 800, 1600):
        try:
            return _eval_point(node, env, fmt, rounding, choice, bits)
        except Undecided:
            continue
    raise Undecided("sqrt brackets did not separate the values")


def claim_rnd_nodes(claim: Claim) -> list:
    """The rnd nodes of the claim, then of its hypotheses (each its own sr outcome)."""
    return rnd_nodes(claim.expr) + [x for h in claim.hyps for x in rnd_nodes(h)]


def choices_for(claim: Claim):
    """All sr outcome assignments (dicts node-id -> away?) for the claim's rnd nodes."""
    if claim.rounding != "sr":
        return [{}]
    nodes = claim_rnd_nodes(claim)
    ids = [id(x) for x in nodes]
    return [dict(zip(ids, c)) for c in itertools.product((False, True), repeat=len(ids))]


def holds_at(claim: Claim, env: dict):
    """(hypotheses hold, claim holds, failing choice) at one point, exactly, over all sr outcomes.

    Hypotheses and claim share the sr choice (one draw per rnd node).
    """
    for ch in choices_for(claim):
        hyp = all(evaluate(h, env, claim.fmt, claim.rounding, ch) for h in claim.hyps)
        if not hyp:
            continue
        if not evaluate(claim.expr, env, claim.fmt, claim.rounding, ch):
            return True, False, ch
    return True, True, None


def report_choice(claim: Claim, top, choice) -> dict:
    """sr choices re-keyed for the tree ``top``.

    sr choices are keyed by rnd-node identity in ``claim.expr``; the report tree has its own nodes,
    so the choices are mapped over by position (both trees list their rnd nodes in the same order).
    """
    if top is claim.expr or not choice:
        return choice or {}
    src = [id(x) for x in rnd_nodes(claim.expr)]
    dst = [id(x) for x in rnd_nodes(top)]
    if len(src) == len(dst):
        return {d: choice[s_] for s_, d in zip(src, dst) if s_ in choice}
    return {}


def first_failing_pair(claim: Claim, env: dict, choice=None):
    """(lhs, rhs) values of the first failing comparison link of the claim's report tree at env, or None."""
    top = claim.report_expr if claim.report_expr is not None else claim.expr
    choice = report_choice(claim, top, choice)

    def find(n):
        if n.kind == "cmp":
            vals = [evaluate(a, env, claim.fmt, claim.rounding, choice) for a in n.args]
            for op, a, b in zip(n.value, vals, vals[1:]):
                try:
                    ok = _cmp(Node("cmp", (), (op,)), [a, b])
                except Undecided:
                    ok = True
                if not ok:
                    return a, b
            return None
        if n.kind in ("and", "or", "not"):
            for a in n.args:
                r = find(a)
                if r:
                    return r
        return None
    return find(top)


def first_failing_sides(claim: Claim, env: dict, choice=None) -> tuple:
    """(lhs, rhs) of the first failing comparison link in the claim at env (exact decimal strings)."""
    r = first_failing_pair(claim, env, choice)
    if r is None:
        top = claim.report_expr if claim.report_expr is not None else claim.expr
        v = evaluate(top, env, claim.fmt, claim.rounding, report_choice(claim, top, choice))
        return str(v), None
    return fmt_value(r[0]), fmt_value(r[1])


def fmt_value(v) -> str:
    """Exact decimal text of a value: terminating decimal for dyadics, else a fraction."""
    if isinstance(v, tuple):
        return f"[{fmt_value(v[0])}, {fmt_value(v[1])}]"
    if isinstance(v, float):
        return repr(v)
    v = Fraction(v)
    if v.denominator == 1:
        return str(v.numerator)
    if is_dyadic(v):
        k = v.denominator.bit_length() - 1
        digits = v.numerator * 5 ** k
        s = str(abs(digits)).rjust(k + 1, "0")
        out = s[:-k] + "." + s[-k:]
        return ("-" if v < 0 else "") + out.rstrip("0").rstrip(".")
    return f"{v.numerator}/{v.denominator}"
