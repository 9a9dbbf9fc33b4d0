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
import importlib
import os
import re
import time
from fractions import Fraction
from typing import Any

from qbound.proofs.engines import smtlib
from qbound.proofs.verdict import Verdict
from qbound.proofs.engines.base import Engine, Unsupported, counterexample_record
from qbound.proofs.engines.fpenc import STANDARD, Encoder, fp_bits_to_fraction


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


def smt_engine(solver: str) -> "SmtEngine":
    """The registered SMT engine named ``solver`` (one of the subclasses of :class:`SmtEngine`,
    one module per solver; :func:`proofs.engines.get_engine` is the registry over all engines).

    >>> smt_engine("bitwuzla").sorts[0]
    (5, 11)
    """
    for cls in SmtEngine.__subclasses__():
        if cls.name == solver:
            return cls()
    raise ValueError(f"no SMT engine {solver!r}")


def solve(solver: str, assertions, timeout: float):
    """Decide satisfiability of a list of terms with the SMT engine ``solver``. Returns (status
    "sat"|"unsat"|"unknown", model dict name -> ("fp", eb, sb, bits) | ("bv", w, value) |
    ("bool", b), reason). The engine reads the query's SMT-LIB2 text (:func:`to_smt2`)."""
    return smt_engine(solver).check_sat(to_smt2(assertions), timeout)


_FEATURE_TEXT = {"fp": "floating point", "bv": "bit-vectors", "real": "real arithmetic"}


class SmtEngine(Engine):
    """One SMT solver behind the Engine interface. Subclasses (one module per solver:
    :mod:`~proofs.engines.z3_engine`, :mod:`~proofs.engines.bitwuzla_engine`,
    :mod:`~proofs.engines.cvc5_engine`) declare ``module`` (the Python package), ``sorts`` (None: any
    floating-point sort, else the accepted (exponent, significand) sorts), ``features`` and
    ``cost_factor`` (relative speed used by the planner)."""

    module = ""
    sorts: tuple[tuple[int, int], ...] | None = None
    features = frozenset({"fp", "bv"})
    cost_factor = 1.0
    replay = "z3 {path}"

    def available(self) -> bool:
        try:
            __import__(self.module)
            return True
        except ImportError:
            return False

    def version(self) -> str:
        """The solver's version ("" when it is not installed)."""
        try:
            return self.version_of(importlib.import_module(self.module))
        except Exception:
            return ""

    def version_of(self, module) -> str:
        """The version string of the imported solver package; each solver's module implements it."""
        raise NotImplementedError

    def check_sat(self, text: str, timeout: float):
        """Decide an SMT-LIB2 script: ``(status, model, reason)`` as :func:`solve` returns; each
        solver's module implements it."""
        raise NotImplementedError

    def check_query(self, assertions):
        """Raise :class:`Unsupported` unless this engine has every feature the query's terms need
        ("fp", "bv", "real" for Int/Real) and accepts its floating-point sorts. Terms built with
        z3's API are not inspected.

        >>> from qbound.proofs.engines.bitwuzla_engine import BitwuzlaEngine
        >>> BitwuzlaEngine().check_query([smtlib.Real("x") > 0])
        Traceback (most recent call last):
        ...
        qbound.proofs.engines.base.Unsupported: bitwuzla does not decide real arithmetic (query needs real)
        """
        assertions = list(assertions)
        if not all(smtlib.is_expr(a) for a in assertions):
            return
        sorts = smtlib.query_sorts(assertions)
        kinds = {s[0] for s in sorts}
        need = {"fp"} if "FP" in kinds else set()
        need |= {"bv"} if "BV" in kinds else set()
        need |= {"real"} if kinds & {"Int", "Real"} else set()
        missing = sorted(need - set(self.features))
        if missing:
            raise Unsupported(f"{self.name} does not decide {'/'.join(_FEATURE_TEXT[m] for m in missing)} "
                              f"(query needs {', '.join(missing)})")
        self.check_sorts([s[1:] for s in sorts if s[0] == "FP"])

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
        :class:`Unsupported` if the engine lacks a feature or sort the query needs
        (:meth:`check_query`). With ``smt2_dir`` the query is first written as SMT-LIB2
        (:func:`write_smt2`); the solver reads the same text (less the header's comment lines).

        >>> x = smtlib.BitVec("x", 4)
        >>> smt_engine("z3").solve_query([smtlib.UGT(x, 15)])[0]
        'unsat'
        """
        t0 = time.perf_counter()
        assertions = list(assertions)
        self.check_query(assertions)
        text = to_smt2(assertions)
        path = None
        if smt2_dir:
            comments = "".join(f"; {ln}\n" for ln in (header or f"qbound query {stem}").splitlines())
            path = write_smt2(smt2_dir, comments + text, stem)
        try:
            st, model, reason = self.check_sat(text, timeout)
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
        details: dict[str, Any] = {"sorts": sorted(enc.sorts)}
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
            if isinstance(val, float) and val != 0.0:
                return Verdict("unknown", self.name, self.version(), time.perf_counter() - t0,
                               reason=f"model gave non-finite {name}", details=details)
            env[name] = val
        return counterexample_record(claim, env, self.name, self.version(), t0, details)
