"""SMT engines (z3, bitwuzla, cvc5) over one encoding (:mod:`proofs.engines.fpenc`, or a reduced
bit-vector query from :mod:`proofs.reductions`).

The query is built once by our SMT-LIB2 generator (:mod:`proofs.engines.smtlib`) and every solver
parses the same text (so what it decides is exactly what ``--smt2-dir`` writes); none of them needs
another solver installed (z3 is imported only to run z3). Terms built with z3's own API are still
accepted (printed by z3), for comparisons in the tests. bitwuzla's Python wheel
accepts only Float16/32/64/128 (plus bit-vectors); a query with another sort is Unsupported for it.
Satisfiable means a counterexample: the model is read back bit-exactly, then replayed through the
exact evaluator before it is reported. Timeouts and solver errors give *unknown*.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from fractions import Fraction

from qbound.proofs.engines import smtlib
from qbound.proofs.verdict import Verdict
from qbound.proofs.engines.base import Engine, Unsupported, counterexample_record
from qbound.proofs.engines.fpenc import STANDARD, Encoder, fp_bits_to_fraction


def z3_version() -> str:
    try:
        import z3
        return z3.get_version_string()
    except Exception:
        return ""


def bitwuzla_version() -> str:
    try:
        import bitwuzla
        return bitwuzla.version()
    except Exception:
        return ""


def cvc5_version() -> str:
    try:
        import cvc5
        return str(getattr(cvc5, "__version__", "")) or "cvc5"
    except Exception:
        return ""


def to_smt2(assertions, header: str = "") -> str:
    """SMT-LIB2 text of a query: our generator's terms (:func:`smtlib.to_smt2`), or z3 terms
    printed by z3 (comparison in the tests)."""
    assertions = list(assertions)
    if all(smtlib.is_expr(a) for a in assertions):
        return smtlib.to_smt2(assertions, header, get_model=True)
    import z3
    s = z3.Solver()
    s.add(*assertions)
    text = s.to_smt2()
    lines = [f"; {ln}" for ln in header.splitlines()]
    return "\n".join(lines) + ("\n" if lines else "") + text + "(get-model)\n"


def write_smt2(smt2_dir, text: str, stem: str) -> str:
    os.makedirs(smt2_dir, exist_ok=True)
    h = hashlib.sha1(text.encode()).hexdigest()[:10]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:60]
    path = os.path.join(smt2_dir, f"{safe}-{h}.smt2")
    with open(path, "w") as fh:
        fh.write(text)
    return path


def solve(solver: str, assertions, timeout: float, want=()):
    """Decide satisfiability. Returns (status "sat"|"unsat"|"unknown", model dict name->int bits
    (bit-vectors and FP as IEEE bits) or bool, reason)."""
    if solver == "z3":
        import z3
        # a fresh context fed the SMT-LIB2 text: the model (hence every counterexample) depends only
        # on the query, never on what this process solved before (same result with any --workers)
        ctx = z3.Context()
        s = z3.Solver(ctx=ctx)
        s.set("timeout", max(1, int(timeout * 1000)))
        s.from_string(to_smt2(assertions).replace("(get-model)", ""))
        r = s.check()
        if r == z3.unsat:
            return "unsat", {}, ""
        if r == z3.unknown:
            return "unknown", {}, s.reason_unknown()
        m = s.model()
        out = {}
        for d in m.decls():
            if d.arity() != 0:
                continue
            name = d.name()
            try:
                v = m[d]
                if z3.is_fp_value(v):
                    out[name] = ("fp", v.ebits(), v.sbits(), _z3_fp_bits(v))
                elif z3.is_bv_value(v):
                    out[name] = ("bv", v.size(), v.as_long())
                elif z3.is_true(v) or z3.is_false(v):
                    out[name] = ("bool", z3.is_true(v))
            except (z3.Z3Exception, ValueError):
                continue   # auxiliary declarations; the variables are plain FP/BV/Bool constants
        return "sat", out, ""
    text = to_smt2(assertions)
    if solver == "bitwuzla":
        return _solve_bitwuzla(text, timeout)
    if solver == "cvc5":
        return _solve_cvc5(text, timeout)
    raise ValueError(solver)


def _z3_fp_bits(v) -> int:
    eb, sb = v.ebits(), v.sbits()
    if v.isNaN():
        return ((1 << eb) - 1) << (sb - 1) | (1 << (sb - 2))
    if v.isInf():
        return (int(v.isNegative()) << (eb + sb - 1)) | (((1 << eb) - 1) << (sb - 1))
    sign = int(v.sign())
    e = v.exponent_as_long(biased=True)
    f = v.significand_as_long()
    return (sign << (eb + sb - 1)) | (e << (sb - 1)) | f


def _solve_bitwuzla(text, timeout):
    import bitwuzla as bw
    tm = bw.TermManager()
    opts = bw.Options()
    opts.set(bw.Option.PRODUCE_MODELS, True)
    opts.set(bw.Option.TIME_LIMIT_PER, max(1, int(timeout * 1000)))
    text = text.replace("(get-model)", "")
    p = bw.Parser(tm, opts, "smt2", 2)
    p.parse(text, True, False)
    bz = p.bitwuzla()
    r = bz.check_sat()
    if r == bw.Result.UNSAT:
        return "unsat", {}, ""
    if r != bw.Result.SAT:
        return "unknown", {}, "bitwuzla: unknown (time limit?)"
    out = {}
    for t in p.get_declared_funs():
        val = bz.get_value(t)
        name = t.symbol()
        srt = t.sort()
        if srt.is_fp():
            sgn, ex, sig = val.value()
            out[name] = ("fp", srt.fp_exp_size(), srt.fp_sig_size(), int(sgn + ex + sig, 2))
        elif srt.is_bv():
            out[name] = ("bv", srt.bv_size(), int(val.value(), 2))
        elif srt.is_bool():
            out[name] = ("bool", str(val) == "true")
    return "sat", out, ""


def _solve_cvc5(text, timeout):
    import cvc5
    tm = cvc5.TermManager()
    slv = cvc5.Solver(tm)
    slv.setOption("produce-models", "true")
    slv.setOption("tlimit-per", str(max(1, int(timeout * 1000))))
    slv.setLogic("ALL")
    sm = cvc5.SymbolManager(tm)
    ip = cvc5.InputParser(slv, sm)
    text = text.replace("(get-model)", "").replace("(check-sat)", "")
    text = re.sub(r"\(set-logic [^)]*\)", "", text)
    ip.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text, "q")
    while True:
        cmd = ip.nextCommand()
        if cmd.isNull():
            break
        cmd.invoke(slv, sm)
    r = slv.checkSat()
    if r.isUnsat():
        return "unsat", {}, ""
    if not r.isSat():
        return "unknown", {}, f"cvc5: {r}"
    out = {}
    for t in sm.getDeclaredTerms():
        v = slv.getValue(t)
        name = str(t)
        srt = t.getSort()
        if srt.isFloatingPoint():
            eb, sb, bvv = v.getFloatingPointValue()
            out[name] = ("fp", eb, sb, int(bvv.getBitVectorValue(2), 2))
        elif srt.isBitVector():
            out[name] = ("bv", srt.getBitVectorSize(), int(v.getBitVectorValue(2), 2))
        elif srt.isBoolean():
            out[name] = ("bool", v.getBooleanValue())
    return "sat", out, ""


class SmtEngine(Engine):
    """One SMT solver behind the Engine interface. Subclasses (one module per solver:
    :mod:`~proofs.engines.z3_engine`, :mod:`~proofs.engines.bitwuzla_engine`,
    :mod:`~proofs.engines.cvc5_engine`) declare ``module`` (the Python package), ``sorts`` (None: any
    floating-point sort, else the accepted (exponent, significand) sorts), ``features`` and
    ``cost_factor`` (relative speed used by the planner)."""

    module = ""
    sorts = None
    features = frozenset({"fp", "bv"})
    cost_factor = 1.0
    replay = "z3 {path}"

    def __init__(self, solver: str | None = None):
        if solver is not None:   # backwards compatible SmtEngine("z3"): the registered subclass
            for cls in SmtEngine.__subclasses__():
                if cls.name == solver:
                    self.__class__ = cls
                    break
            else:
                raise ValueError(f"no SMT engine {solver!r}")
        self.name = type(self).name

    def available(self) -> bool:
        try:
            __import__(self.module)
            return True
        except ImportError:
            return False

    def version(self) -> str:
        return {"z3": z3_version, "bitwuzla": bitwuzla_version, "cvc5": cvc5_version}[self.name]()

    def check_sorts(self, sorts):
        if self.sorts is None:
            return
        bad = [s for s in sorts if tuple(s) not in self.sorts]
        if bad:
            names = {(5, 11): "Float16", (8, 24): "Float32", (11, 53): "Float64", (15, 113): "Float128"}
            acc = "/".join(names.get(s, str(s)) for s in self.sorts)
            raise Unsupported(f"{self.name}'s wheel accepts only {acc}; query needs {sorted(bad)}")

    def encode(self, claim):
        """(assertions, sorts) of the claim's negation; Unsupported if it cannot be encoded here."""
        std = tuple(self.sorts) if self.sorts is not None else STANDARD
        enc = Encoder(claim, prefer_standard=True, standard=std)
        assertions = enc.query()
        self.check_sorts(enc.sorts)
        return assertions, enc.sorts

    def solve_query(self, assertions, timeout: float = 30.0, smt2_dir=None, stem: str = "query",
                    header: str = ""):
        """Decide a prepared query (a list of assertions, e.g. a reduced bit-vector query of
        :mod:`proofs.reductions`): ``(status, model, seconds, smt2 path, reason)`` with status
        "sat" | "unsat" | "unknown"; a solver error is "unknown" with its reason, never "unsat".
        With ``smt2_dir`` the query is first written as SMT-LIB2 (:func:`write_smt2`).

        >>> x = smtlib.BitVec("x", 4)
        >>> SmtEngine("z3").solve_query([smtlib.UGT(x, 15)])[0]
        'unsat'
        """
        t0 = time.perf_counter()
        path = write_smt2(smt2_dir, to_smt2(assertions, header or f"qbound query {stem}"), stem) if smt2_dir else None
        try:
            st, model, reason = solve(self.name, assertions, timeout)
        except Exception as exc:  # solver error: unknown, never proved
            return "unknown", {}, time.perf_counter() - t0, path, f"solver error: {type(exc).__name__}: {exc}"
        return st, model, time.perf_counter() - t0, path, reason

    def satisfiable(self, claim, timeout: float = 30.0):
        """Are the hypotheses satisfiable (True/False/None)? For vacuity."""
        from dataclasses import replace
        from qbound.proofs.claims import Node
        false = Node("cmp", (Node("num", value=Fraction(0)), Node("num", value=Fraction(1))), ("==",))
        try:
            assertions, _ = self.encode(replace(claim, expr=false))
            st = self.solve_query(assertions, timeout)[0]
        except Exception:
            return None
        return {"sat": True, "unsat": False}.get(st)

    def decide(self, claim, timeout: float = 30.0, smt2_dir=None) -> Verdict:
        t0 = time.perf_counter()
        std = tuple(self.sorts) if self.sorts is not None else STANDARD
        enc = Encoder(claim, prefer_standard=True, standard=std)
        assertions = enc.query()
        self.check_sorts(enc.sorts)
        details = {"sorts": sorted(enc.sorts)}
        header = (f"qbound claim: {claim.source}\nassume: {list(claim.assume)}\nformat: {claim.fmt.name} "
                  f"rounding: {claim.rounding}\nsat = counterexample exists; unsat = proved")
        status, model, _, path, reason = self.solve_query(
            assertions, timeout, smt2_dir, f"{claim.fmt.name}-{claim.rounding}-{claim.source}", header)
        if path:
            details["smt2"] = path
            details["replay"] = self.replay.format(path=path)
        if status == "unsat":
            return Verdict("proved", self.name, self.version(), time.perf_counter() - t0, details=details)
        if status == "unknown":
            return Verdict("unknown", self.name, self.version(), time.perf_counter() - t0,
                           reason=reason or "unknown", details=details)
        env = {}
        for name in claim.vars:
            key = f"v_{name}"
            if key not in model:
                env[name] = Fraction(0)
                continue
            _, eb, sb, bits = model[key]
            val = fp_bits_to_fraction(bits, eb, sb)
            if isinstance(val, float):
                return Verdict("unknown", self.name, self.version(), time.perf_counter() - t0,
                               reason=f"model gave non-finite {name}", details=details)
            env[name] = val
        return counterexample_record(claim, env, self.name, self.version(), t0, details)
