"""The z3 engine: any (exponent, significand) floating-point sort, bit-vectors, reals.

z3 is the only solver here that accepts non-standard sorts (bf16's (8, 8), the wide exact sorts of
a claim), so ``auto`` uses it where bitwuzla and cvc5 cannot encode a query; it is also the slowest on
floating-point multiplication, so the planner predicts a higher cost for it.
"""
from __future__ import annotations

from qbound.proofs.engines.smt import SmtEngine


class Z3Engine(SmtEngine):
    name = "z3"
    module = "z3"
    sorts = None
    features = frozenset({"fp", "bv", "real", "any_sort"})
    cost_factor = 4.0
    replay = "python -c \"import z3,sys; s=z3.Solver(); s.from_file(sys.argv[1]); print(s.check())\" {path}"

    def version_of(self, z3) -> str:
        return z3.get_version_string()

    def check_sat(self, text: str, timeout: float):
        """Decide an SMT-LIB2 script with z3: (status, model, reason)."""
        import z3
        # a fresh context fed the SMT-LIB2 text: the model (hence every counterexample) depends only
        # on the query, never on what this process solved before (same result with any --workers)
        ctx = z3.Context()
        s = z3.Solver(ctx=ctx)
        s.set("timeout", max(1, int(timeout * 1000)))
        s.from_string(text.replace("(get-model)", ""))
        r = s.check()
        if r == z3.unsat:
            return "unsat", {}, ""
        if r == z3.unknown:
            return "unknown", {}, s.reason_unknown()
        m = s.model()
        out: dict[str, tuple] = {}
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
