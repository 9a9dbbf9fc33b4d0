"""Faithful floating-point encoding of claims for SMT solvers, built with our own SMT-LIB2 generator
(:mod:`proofs.engines.smtlib`, the default backend: no solver is needed to build a query) or, for
comparison in the tests, with z3's Python API (``Encoder(..., backend=z3)``): the code is the same.

Exactness analysis: every numeric subterm carries (prec, q, h): its finite values are integer
multiples of 2^q below 2^h in magnitude with at most ``prec`` significant bits. It is computed in an
IEEE sort large enough to hold every such value exactly (preferring the standard sorts
Float16/32/64/128), so the solver's round-to-nearest operations on it are exact. ``rnd(e)`` is then a
single correctly rounded operation:

* IEEE-policy targets (fp32, fp16, bf16, fp8_e5m2, eXmY): ``rnd(x op y)`` with x, y values of the
  target format is the solver's ``fp.add/sub/mul/div/sqrt/fma`` in the target sort with the claim's
  rounding mode (the exact real result, rounded once); any other exact ``e`` is ``to_fp`` of its wide
  value.
* OCP "fn" (E4M3FN) and "none" (FP6, FP4) targets are *not* IEEE sorts and are never treated as one.
  Range split: A = the IEEE-like sort with the same exponent bits and bias (correct grid for
  |x| < 2^emax_A, including every subnormal), B = one more exponent bit (correct grid for every
  |x| >= tiny, wider range); the result is A's rounding when |A(x)| < 2^emax_A, else B's rounding with
  the format's own overflow rule (NaN when rounding away from zero above the largest finite value for
  "fn", saturation for "none"). Variables of such formats are B-sort values constrained to the format's
  grid and range.
* ``sr``: each ``rnd`` gets a free Boolean choosing the toward-zero or away-from-zero neighbour, so a
  proof covers every random outcome.

Not encodable (raises Unsupported): division or sqrt outside ``rnd``, negative powers, non-dyadic
constants that denominator clearing could not remove, and subterms needing more than MAX_PREC bits.
"""
from __future__ import annotations

from fractions import Fraction

from qbound.proofs.claimwalk import NodeVisitor, same_node
from qbound.proofs.engines import smtlib
from qbound.proofs.engines.base import Unsupported

MAX_PREC = 600
STANDARD = ((5, 11), (8, 24), (11, 53), (15, 113))


def rm_of(mode, Z=None):
    """The rounding-mode term of a (non-sr) mode in backend ``Z`` (default: our SMT-LIB2 builder)."""
    Z = Z or smtlib
    return {"rne": Z.RNE, "rna": Z.RNA, "rtz": Z.RTZ, "rup": Z.RTP, "rdn": Z.RTN}[mode]()


def sort_for(prec, q, h, prefer_standard=True, standard=STANDARD):
    """Smallest IEEE sort (eb, sb) holding every multiple of 2^q below 2^h with prec bits."""
    prec = max(prec, 3)

    def ok(eb, sb):
        bias = (1 << (eb - 1)) - 1
        emin, emax = 1 - bias, bias
        return sb >= prec and emax >= h and (emin - sb + 1) <= q
    if prefer_standard:
        for eb, sb in standard:
            if ok(eb, sb):
                return eb, sb
    for eb in range(2, 20):
        if ok(eb, prec):
            return eb, prec
    raise Unsupported(f"no sort for prec={prec} q={q} h={h}")


class Term:
    __slots__ = ("t", "eb", "sb", "prec", "q", "h", "fmtval")

    def __init__(self, t, eb, sb, prec, q, h, fmtval=False):
        self.t, self.eb, self.sb, self.prec, self.q, self.h, self.fmtval = t, eb, sb, prec, q, h, fmtval


def fp_const(c: Fraction, eb, sb, Z=None):
    """Exact FP literal of a dyadic rational in sort (eb, sb), in backend ``Z`` (default: ours)."""
    Z = Z or smtlib
    if Z is smtlib:
        return smtlib.FPVal(Fraction(c), smtlib.FPSort(eb, sb))
    z3 = Z
    s = z3.FPSort(eb, sb)
    if c == 0:
        return z3.FPVal(0.0, s)
    num, den = c.numerator, c.denominator
    k = den.bit_length() - 1
    # value = num * 2^-k ; z3 accepts "num" with exponent
    return z3.FPVal(f"{abs(num)}", f"{-k}", s) if num > 0 else -z3.FPVal(f"{abs(num)}", f"{-k}", s)


class Encoder(NodeVisitor):
    """The SMT terms of a claim: :meth:`num` for a numeric node (one ``visit_*`` handler per kind,
    the exactness analysis above), :meth:`boolean` for a boolean one, :meth:`query` for the whole
    claim."""

    def __init__(self, claim, prefer_standard=True, standard=STANDARD, backend=None):
        #: the term builder: :mod:`proofs.engines.smtlib` (ours, default) or the ``z3`` module
        self.z = backend or smtlib
        self.standard = standard
        self.c = claim
        self.fmt = claim.fmt
        self.mode = claim.rounding
        self.prefer_standard = prefer_standard
        self.sorts = set()
        self.side = []
        self.vars = {}
        self.var_sort = {}
        self.nchoice = 0
        fmt = self.fmt
        if fmt.bias != (1 << (fmt.exp_bits - 1)) - 1 or not fmt.subnormals:
            raise Unsupported(f"{fmt.name}: non-standard bias or flushed subnormals")
        self.tgt_ieee = fmt.policy == "ieee"
        self.SA = (fmt.exp_bits, fmt.p)
        self.SB = (fmt.exp_bits + 1, fmt.p)
        self.tinfo = (fmt.p, fmt.emin - fmt.man_bits, fmt.emax + 1)
        self._direct_op = _DirectOp(self)

    # ------------------------------------------------------------ helpers
    def fp_const(self, c, eb, sb):
        return fp_const(c, eb, sb, self.z)

    def rm_of(self, mode):
        return rm_of(mode, self.z)

    def _is_target_value(self, c) -> bool:
        from qbound.proofs.exact import round_fraction
        r = round_fraction(c, self.fmt, "rtz")
        return not isinstance(r, float) and r == c

    def _rnd_info(self, info):
        """(prec, q, h) of rnd(E) from E's: a multiple of 2^max(q_E, emin - m) (the target's quantum
        at |E| is a power of two >= both, or E is representable), at most 2^h_E in magnitude."""
        fmt = self.fmt
        if info is None:
            return self.tinfo
        _, q, h = info
        return (fmt.p, max(q, fmt.emin - fmt.man_bits), min(h + 1, fmt.emax + 1))

    def _sort(self, eb, sb):
        if eb < 2 or sb < 3:
            raise Unsupported(f"SMT floating-point sorts need >= 2 exponent and >= 3 significand bits; "
                              f"{self.fmt.name} needs ({eb}, {sb}) (use the exhaustive engine)")
        self.sorts.add((eb, sb))
        return self.z.FPSort(eb, sb)

    def conv(self, T: Term, eb, sb):
        if (T.eb, T.sb) == (eb, sb):
            return T.t
        return self.z.fpToFP(self.z.RNE(), T.t, self._sort(eb, sb))

    def wide(self, prec, q, h):
        if prec > MAX_PREC:
            raise Unsupported(f"a subterm needs {prec} bits of precision (> {MAX_PREC}); "
                              "use a reduced lemma or the exhaustive engine")
        eb, sb = sort_for(prec, q, h, self.prefer_standard, self.standard)
        self._sort(eb, sb)
        return eb, sb

    # ------------------------------------------------------------ variables
    def var(self, name):
        if name in self.vars:
            return self.vars[name]
        V = self.c.var_fmt
        if V.bias != (1 << (V.exp_bits - 1)) - 1 or not V.subnormals:
            raise Unsupported(f"{V.name}: non-standard bias or flushed subnormals")
        info = (V.p, V.emin - V.man_bits, V.emax + 1)
        if self.c.var_domain == "significands":
            # scale-invariance reduction: |x| in [1, 2), p-bit significands
            info = (V.p, -V.man_bits, 1)
        if V.policy == "ieee":
            s = self._sort(V.exp_bits, V.p)
            x = self.z.FP(f"v_{name}", s)
            self.side += [self.z.Not(self.z.fpIsNaN(x)), self.z.Not(self.z.fpIsInf(x))]
            if self.c.var_domain == "significands":
                self.side += [self.z.fpGEQ(self.z.fpAbs(x), self.fp_const(Fraction(1), V.exp_bits, V.p)),
                              self.z.fpLT(self.z.fpAbs(x), self.fp_const(Fraction(2), V.exp_bits, V.p))]
            T = Term(x, V.exp_bits, V.p, *info, fmtval=(V == self.fmt))
        else:
            eb, sb = V.exp_bits + 1, V.p
            sB = self._sort(eb, sb)
            sA = self._sort(V.exp_bits, V.p)
            x = self.z.FP(f"v_{name}", sB)
            huge = self.fp_const(V.max_finite, eb, sb)
            tiny = self.fp_const(V.min_normal, eb, sb)
            back = self.z.fpToFP(self.z.RNE(), self.z.fpToFP(self.z.RTZ(), x, sA), sB)
            self.side += [self.z.Not(self.z.fpIsNaN(x)), self.z.Not(self.z.fpIsInf(x)), self.z.fpLEQ(self.z.fpAbs(x), huge),
                          self.z.Or(self.z.fpGEQ(self.z.fpAbs(x), tiny), self.z.fpEQ(back, x))]
            if self.c.var_domain == "significands":
                self.side += [self.z.fpGEQ(self.z.fpAbs(x), self.fp_const(Fraction(1), eb, sb)),
                              self.z.fpLT(self.z.fpAbs(x), self.fp_const(Fraction(2), eb, sb))]
            T = Term(x, eb, sb, *info, fmtval=False)
        self.vars[name] = T
        self.var_sort[name] = (T.eb, T.sb)
        return T

    # ------------------------------------------------------------ numeric nodes
    def num(self, n) -> Term:
        """The term of a numeric node (its exact value, see the module docstring)."""
        if n.is_bool:
            raise Unsupported(f"node {n.kind}")
        return self.visit(n)

    def visit_num(self, n) -> Term:
        c = n.value
        if c.denominator & (c.denominator - 1):
            raise Unsupported(f"non-dyadic constant {c} (not removable by denominator clearing)")
        if c == 0:
            eb, sb = self.wide(2, 0, 1)
            return Term(self.fp_const(c, eb, sb), eb, sb, 1, 0, 1)
        num, den = abs(c.numerator), c.denominator
        tz = (num & -num).bit_length() - 1
        q = tz - (den.bit_length() - 1)
        prec = num.bit_length() - tz
        h = q + prec
        if self.tgt_ieee and self._is_target_value(c):
            # a value of the target format: usable as an operand of the solver's rounded ops
            self._sort(*self.SA)
            return Term(self.fp_const(c, *self.SA), *self.SA, prec, q, h, fmtval=True)
        eb, sb = self.wide(prec, q, h)
        return Term(self.fp_const(c, eb, sb), eb, sb, prec, q, h)

    def visit_var(self, n) -> Term:
        return self.var(n.value)

    def visit_name(self, n):
        raise Unsupported(f"node {n.kind}")   # names are resolved when the claim is built

    def visit_add(self, n) -> Term:
        """x + y, x - y, x * y exactly: in a sort wide enough for every value of the result
        (products add precisions and exponents; sums span both ranges plus one bit)."""
        k = n.kind
        a, b = self.num(n.args[0]), self.num(n.args[1])
        if k == "mul":
            prec, q, h = a.prec + b.prec, a.q + b.q, a.h + b.h
        else:
            q, h = min(a.q, b.q), max(a.h, b.h) + 1
            prec = h - q
        eb, sb = self.wide(prec, q, h)
        x, y = self.conv(a, eb, sb), self.conv(b, eb, sb)
        t = {"add": self.z.fpAdd, "sub": self.z.fpSub, "mul": self.z.fpMul}[k](self.z.RNE(), x, y)
        return Term(t, eb, sb, prec, q, h)

    visit_sub = visit_mul = visit_add

    def visit_neg(self, n) -> Term:
        a = self.num(n.args[0])
        return Term(self.z.fpNeg(a.t), a.eb, a.sb, a.prec, a.q, a.h, a.fmtval)

    def visit_pow(self, n) -> Term:
        if n.value < 0:
            raise Unsupported("negative powers outside rnd()")
        if n.value == 0:
            return self.num(type(n)("num", value=Fraction(1)))
        a = self.num(n.args[0])
        acc = a
        for _ in range(n.value - 1):
            prec, q, h = acc.prec + a.prec, acc.q + a.q, acc.h + a.h
            eb, sb = self.wide(prec, q, h)
            acc = Term(self.z.fpMul(self.z.RNE(), self.conv(acc, eb, sb), self.conv(a, eb, sb)), eb, sb, prec, q, h)
        return acc

    def visit_div(self, n) -> Term:
        if n.value == "y0":
            # this branch is taken only where the denominator is zero: IEEE x/0 (+-inf or NaN) is exact
            a, b = self.num(n.args[0]), self.num(n.args[1])
            eb, sb = self.wide(max(a.prec, b.prec), min(a.q, b.q), max(a.h, b.h))
            t = self.z.fpDiv(self.z.RNE(), self.conv(a, eb, sb), self.conv(b, eb, sb))
            return Term(t, eb, sb, 1, 0, 1)
        raise Unsupported("exact division outside rnd() that could not be multiplied out")

    def visit_call_rnd(self, n) -> Term:
        return self.rnd(n, n.args[0])

    def visit_call_sqrt(self, n):
        raise Unsupported("exact sqrt outside rnd() (square it out, or use the exhaustive engine)")

    def visit_call_abs(self, n) -> Term:
        a = self.num(n.args[0])
        return Term(self.z.fpAbs(a.t), a.eb, a.sb, a.prec, a.q, a.h, a.fmtval)

    def visit_call_min(self, n) -> Term:
        """min/max with IEEE NaN propagation (NaN if either operand is NaN)."""
        f = n.value
        a, b = self.num(n.args[0]), self.num(n.args[1])
        q, h = min(a.q, b.q), max(a.h, b.h)
        prec = max(a.prec, b.prec, 2)  # significant bits; position anywhere in [2^q, 2^h)
        eb, sb = self.wide(prec, q, h)
        x, y = self.conv(a, eb, sb), self.conv(b, eb, sb)
        nan = self.z.fpNaN(self._sort(eb, sb))
        pick = self.z.fpLT(x, y) if f == "min" else self.z.fpGT(x, y)
        t = self.z.If(self.z.Or(self.z.fpIsNaN(x), self.z.fpIsNaN(y)), nan, self.z.If(pick, x, y))
        return Term(t, eb, sb, prec, q, h)

    visit_call_max = visit_call_min

    def visit_call_ulp(self, n) -> Term:
        """ulp(x) = 2^(max(e, emin) - m) for 2^e <= |x| < 2^(e+1): a ladder of comparisons."""
        a = self.num(n.args[0])
        fmt = self.fmt
        m = fmt.man_bits
        top = max(a.h - 1, fmt.emin)
        q, h = fmt.emin - m, top - m + 1
        eb, sb = self.wide(1, q, h)
        out = self.fp_const(Fraction(2) ** (fmt.emin - m), eb, sb)
        ax = self.z.fpAbs(a.t)
        for e in range(fmt.emin + 1, top + 1):
            out = self.z.If(self.z.fpGEQ(ax, self.fp_const(Fraction(2) ** e, a.eb, a.sb)),
                        self.fp_const(Fraction(2) ** (e - m), eb, sb), out)
        out = self.z.If(self.z.Or(self.z.fpIsNaN(a.t), self.z.fpIsInf(a.t)), self.z.fpNaN(self._sort(eb, sb)), out)
        return Term(out, eb, sb, 1, q, h)

    # ------------------------------------------------------------ rounding
    def _choice(self):
        self.nchoice += 1
        return self.z.Bool(f"sr_{self.nchoice}")

    def rnd(self, node, e) -> Term:
        eb, sb = (self.SA if self.tgt_ieee else self.SB)
        if self.tgt_ieee:
            self._last_info = None
            direct = self._direct(e)
            if direct is not None:
                t = self._by_mode(direct, ieee=True)
                return Term(t, eb, sb, *self._rnd_info(self._last_info), fmtval=True)
        W = self.num(e)
        info = self._rnd_info((W.prec, W.q, W.h))
        if self.tgt_ieee:
            sA = self._sort(*self.SA)
            t = self._by_mode(lambda rm: self.z.fpToFP(rm, W.t, sA), ieee=True)
            return Term(t, eb, sb, *info, fmtval=True)
        return Term(self._split(W), eb, sb, *info, fmtval=False)

    def _by_mode(self, op, ieee):
        """op(rm) -> term; apply the claim's mode (sr: free choice of the two neighbours)."""
        if self.mode != "sr":
            return op(self.rm_of(self.mode))
        dn, up, tz = op(self.z.RTN()), op(self.z.RTP()), op(self.z.RTZ())
        away = self.z.If(self.z.fpIsNegative(dn), dn, up)
        return self.z.If(self._choice(), away, tz)

    def _direct(self, e):
        """If e is a single IEEE operation on target-format values, return op(rm) for it."""
        return self._direct_op.visit(e)

    def _split(self, W: Term):
        """Range-split rounding into an fn/none format (see module docstring)."""
        fmt = self.fmt
        sA, sB = self._sort(*self.SA), self._sort(*self.SB)
        emaxA = (1 << (fmt.exp_bits - 1)) - 1
        limA = self.fp_const(Fraction(2) ** emaxA, *self.SB)
        huge = self.fp_const(fmt.max_finite, *self.SB)

        def rounded(rm, away_over):
            rA = self.z.fpToFP(self.z.RNE(), self.z.fpToFP(rm, W.t, sA), sB)
            rB = self.z.fpToFP(rm, W.t, sB)
            if fmt.policy == "none" or not away_over:
                over = self.z.If(self.z.fpIsNegative(rB), self.z.fpNeg(huge), huge)
            else:
                over = self.z.fpNaN(sB)
            fixed = self.z.If(self.z.fpGT(self.z.fpAbs(rB), huge), over, rB)
            return self.z.If(self.z.fpLT(self.z.fpAbs(rA), limA), rA, fixed)
        m = self.mode
        if m in ("rne", "rna"):
            return rounded(self.rm_of(m), True)
        if m == "rtz":
            return rounded(self.z.RTZ(), False)
        if m in ("rup", "rdn"):
            rm = self.rm_of(m)
            r_pos, r_neg = rounded(rm, m == "rup"), rounded(rm, m == "rdn")
            return self.z.If(self.z.fpIsNegative(W.t), r_neg, r_pos)
        dn_away, up_away = rounded(self.z.RTN(), True), rounded(self.z.RTP(), True)
        away = self.z.If(self.z.fpIsNegative(W.t), dn_away, up_away)
        tz = rounded(self.z.RTZ(), False)
        return self.z.If(self._choice(), away, tz)

    # ------------------------------------------------------------ booleans
    def boolean(self, n):
        """The Boolean term of a boolean node."""
        if not n.is_bool:
            raise Unsupported(f"boolean node {n.kind}")
        return self.visit(n)

    def visit_cmp(self, n):
        ex = self._exactness(n)
        if ex is not None:
            return ex
        out = []
        for i, op in enumerate(n.value):
            t = self._cmp_rounded(op, n.args[i], n.args[i + 1])
            if t is None:
                break
            out.append(t)
        else:
            return self.z.And(*out) if len(out) > 1 else out[0]
        terms = [self.num(a) for a in n.args]
        out = []
        for op, a, b in zip(n.value, terms, terms[1:]):
            if (a.eb, a.sb) == (b.eb, b.sb):
                x, y = a.t, b.t
            else:
                # every value has at most max(prec) significant bits within [2^q, 2^h)
                eb, sb = self.wide(max(a.prec, b.prec), min(a.q, b.q), max(a.h, b.h))
                x, y = self.conv(a, eb, sb), self.conv(b, eb, sb)
            out.append({"<": self.z.fpLT, "<=": self.z.fpLEQ, ">": self.z.fpGT, ">=": self.z.fpGEQ,
                        "==": self.z.fpEQ, "!=": lambda p, q: self.z.Not(self.z.fpEQ(p, q))}[op](x, y))
        return self.z.And(*out) if len(out) > 1 else out[0]

    def visit_and(self, n):
        return self.z.And(*[self.boolean(a) for a in n.args])

    def visit_or(self, n):
        return self.z.Or(*[self.boolean(a) for a in n.args])

    def visit_not(self, n):
        return self.z.Not(self.boolean(n.args[0]))

    def _cmp_rounded(self, op, left, right):
        """``x op E`` with x a target-format value and E one exact IEEE operation on target values,
        decided in the target sort: x >= E iff x >= RTP(E), x > E iff x > RTN(E), x <= E iff
        x <= RTN(E), x < E iff x < RTP(E), x == E iff x == RTN(E) == RTP(E) (RTP(E) is the least
        format value >= E, +inf past huge; RTN(E) the greatest <= E). None when not applicable."""
        if not self.tgt_ieee or op not in ("<", "<=", ">", ">=", "==", "!="):
            return None
        flip = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
        for xs, es, o in ((left, right, op), (right, left, flip[op])):
            if es.kind not in ("add", "sub", "mul", "div") or any(x.kind == "call" for x in es.walk()):
                continue
            if xs.kind not in ("var", "num", "call", "neg") or (xs.kind == "call" and xs.value not in ("rnd", "abs")):
                continue
            try:
                X = self.num(xs)
                if not (X.fmtval and (X.eb, X.sb) == self.SA):
                    continue
                d = self._direct(es)
            except Unsupported:
                continue
            if d is None:
                continue
            dn, up = d(self.z.RTN()), d(self.z.RTP())
            x = X.t
            if o == ">=":
                return self.z.fpGEQ(x, up)
            if o == ">":
                return self.z.fpGT(x, dn)
            if o == "<=":
                return self.z.fpLEQ(x, dn)
            if o == "<":
                return self.z.fpLT(x, up)
            eq = self.z.And(self.z.fpEQ(x, dn), self.z.fpEQ(dn, up))
            return eq if o == "==" else self.z.Not(eq)
        return None

    def _exactness(self, n):
        """``rnd(E) == E`` (either order) with E one IEEE operation on target-format values:
        E is exact iff rounding it down and up agree and the result is finite (no wide sort)."""
        if len(n.args) != 2 or n.value != ("==",) or not self.tgt_ieee:
            return None
        a, b = n.args
        if b.kind == "call" and b.value == "rnd":
            a, b = b, a
        if not (a.kind == "call" and a.value == "rnd" and same_node(a.args[0], b) and b.kind in ("add", "sub", "mul")):
            return None
        d = self._direct(b)
        if d is None:
            return None
        dn, up = d(self.z.RTN()), d(self.z.RTP())
        return self.z.And(self.z.fpEQ(dn, up), self.z.Not(self.z.fpIsInf(dn)), self.z.Not(self.z.fpIsNaN(dn)))

    def query(self):
        """Assertions whose satisfiability means a counterexample exists."""
        hyps = [self.boolean(h) for h in self.c.hyps]
        neg = self.z.Not(self.boolean(self.c.expr))
        for v in self.c.vars:
            self.var(v)
        return self.side + hyps + [neg]


class _DirectOp(NodeVisitor):
    """Recognise ``e`` = one IEEE operation on target-format values (``x op y`` for + - * /, an fma
    ``a*b + c``, ``c + a*b``, ``a*b - c``, or ``sqrt(x)``) and return ``op(rm)``, the solver's
    operation with rounding mode rm, which rounds the exact real result once. A pattern matcher:
    every other node is answered None (:meth:`unhandled`), meaning "not a single operation"."""

    def __init__(self, enc: "Encoder"):
        self.enc = enc

    def unhandled(self, e, *args, **kwargs):
        return None

    def _fma(self, e):
        enc = self.enc
        k = e.kind
        sA = enc.SA
        # fma pattern: a*b + c, c + a*b, a*b - c
        a, b = e.args
        if sA[0] > sA[1]:
            a = b = e  # no fma shortcut either (same z3 limitation); fall through
        if a.kind == "mul" and k in ("add", "sub"):
            x, y = enc.num(a.args[0]), enc.num(a.args[1])
            z = enc.num(b)
            if x.fmtval and y.fmtval and z.fmtval:
                zt = z.t if k == "add" else enc.z.fpNeg(z.t)
                enc._last_info = (0, min(x.q + y.q, z.q), max(x.h + y.h, z.h) + 1)
                return lambda rm: enc.z.fpFMA(rm, x.t, y.t, zt)
        if b.kind == "mul" and k == "add":
            x, y = enc.num(b.args[0]), enc.num(b.args[1])
            z = enc.num(a)
            if x.fmtval and y.fmtval and z.fmtval:
                enc._last_info = (0, min(x.q + y.q, z.q), max(x.h + y.h, z.h) + 1)
                return lambda rm: enc.z.fpFMA(rm, x.t, y.t, z.t)
        return None

    def _binary(self, e):
        enc = self.enc
        k = e.kind
        sA = enc.SA
        try:
            x, y = enc.num(e.args[0]), enc.num(e.args[1])
        except Unsupported:
            return None
        if k in ("add", "sub") and sA[0] > sA[1]:
            return None  # z3 does not support fp.add/sub with ebits > sbits: use the exact wide path
        if x.fmtval and y.fmtval and (x.eb, x.sb) == sA == (y.eb, y.sb):
            f = {"add": enc.z.fpAdd, "sub": enc.z.fpSub, "mul": enc.z.fpMul, "div": enc.z.fpDiv}[k]
            if k == "mul":
                enc._last_info = (0, x.q + y.q, x.h + y.h)
            elif k in ("add", "sub"):
                enc._last_info = (0, min(x.q, y.q), max(x.h, y.h) + 1)
            return lambda rm: f(rm, x.t, y.t)
        if k == "div":
            raise Unsupported("rnd(x/y) needs x and y to be values of the target format")
        return None

    def visit_add(self, e):
        d = self._fma(e)
        return d if d is not None else self._binary(e)

    visit_sub = visit_add

    def visit_mul(self, e):
        return self._binary(e)

    visit_div = visit_mul

    def visit_call_sqrt(self, e):
        enc = self.enc
        x = enc.num(e.args[0])
        if x.fmtval:
            return lambda rm: enc.z.fpSqrt(rm, x.t)
        raise Unsupported("rnd(sqrt(x)) needs x to be a value of the target format")


def fp_bits_to_fraction(bits: int, eb: int, sb: int):
    """Exact value of an IEEE bit pattern in sort (eb, sb): Fraction, float inf/nan, or -0.0 for -0."""
    m = sb - 1
    sign = -1 if (bits >> (eb + m)) & 1 else 1
    E = (bits >> m) & ((1 << eb) - 1)
    f = bits & ((1 << m) - 1)
    bias = (1 << (eb - 1)) - 1
    if E == (1 << eb) - 1:
        return float("nan") if f else sign * float("inf")
    if E == 0:
        if f == 0:
            return -0.0 if sign < 0 else Fraction(0)  # the pattern -0 keeps its sign (x/(-0) = -inf)
        return sign * Fraction(f, 1 << m) * Fraction(2) ** (1 - bias)
    return sign * (1 + Fraction(f, 1 << m)) * Fraction(2) ** (E - bias)
