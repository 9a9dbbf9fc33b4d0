"""The planner behind ``engine="auto"``: choose the cheapest sound method per claim, say why, and
report the wall time of the whole decision.

Candidate methods (each is sound on its own; a method that does not apply says why):

1. *Known lemmas* (symmetric rounding modes): ``abs(rnd(E) - E) <= B*abs(E)`` with
   ``tiny <= abs(E) <= huge`` for any exact E is implied by the conversion lemma over all reals
   (proves only); the product, sum and quotient forms also go to the validated significand
   reductions of :mod:`proofs.reductions` (bit-vector queries), which also find counterexamples.
2. *Exhaustive enumeration* of every assignment (formats of <= 16 bits), cost proportional to the
   number of assignments: numpy up to 2^25, beyond that (two variables of a 16-bit format, 2^32)
   the compiled multithreaded enumerator (:mod:`proofs.engines.compiled`).
3. *Scale reduction* (:mod:`proofs.scaling`): variables on ±[1, 2) only, then enumeration (16-bit
   formats: 2^p values per variable) or SMT on the reduced claim (exact sorts stay small).
4. *SMT* (bitwuzla, z3, cvc5) on the direct encoding, where the engine accepts every sort.

Methods are tried in order of predicted cost (a rough model: enumeration ~0.2 us per assignment,
SMT by precision, variables, rounded operations and the solver's ``cost_factor``; a method whose
engine cannot encode the claim says so at once and costs nothing); the first decided verdict is
returned.
The ``--timeout`` budget is shared: each method gets half of what is left (the last one all of it),
so one badly predicted method cannot starve the others. ``Verdict.seconds`` is the wall
time of the whole decision, and ``details["plan"]`` lists every method with its outcome.

Vacuity: after a proof, the planner checks that some assignment satisfies the hypotheses (the
enumeration counts them; SMT asks a second, hypotheses-only query). A claim whose hypotheses nothing
satisfies is proved *vacuously* (``Verdict.vacuous``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction

from qbound.numeric.errors import QboundError
from qbound.proofs.claimwalk import same_node
from qbound.proofs.exact import claim_rnd_nodes
from qbound.proofs.verdict import Verdict

#: enumeration is planned up to this many assignments (the engine's own hard limit is higher)
ENUM_LIMIT = 1 << 25
SECONDS_PER_CASE = 2e-7
#: the compiled enumerator (numba): compile time and time per assignment on 2 cores, times
#: (1 + 2^r / 8) for r rnd nodes under sr (each outcome combination is evaluated). Fitted to
#: ``qbound bench prove``'s 2^32 enumerations (after the sign reduction; two kernels compiled, the
#: float64 filter and the exact one): three sr roundings on fp16 1.05e-8 s per assignment (with and
#: without a sign symmetry), one fma under sr on bf16 8e-9, a quotient under rtz 1.0e-8.
COMPILED_LIMIT = 1 << 33
COMPILE_SECONDS = 5.0
COMPILED_SECONDS_PER_CASE = 6e-9


#: a step before an enumeration predicted to fit leaves it this multiple of its predicted time
ENUM_RESERVE = 1.25


def _complete(step) -> bool:
    """Does the step enumerate (decides for certain, given its time)?"""
    return "enumeration" in getattr(step.engine, "features", ())


class Disagreement(QboundError):
    """Two methods decided the same claim differently (a bug: never reported as a verdict)."""


@dataclass
class Step:
    method: str
    engine: object
    claim: object
    cost: float
    why: str
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.method} (predicted {self.cost:.2g} s): {self.why}"


def _smt_cost(engine, claim) -> float:
    """Predicted seconds, without building the query: by precision, number of variables and rnd
    nodes (a reduced claim's exact subterms stay narrow, so it is predicted cheaper)."""
    p = claim.var_fmt.p
    nv = max(1, len(claim.vars))
    nr = len(claim_rnd_nodes(claim))
    base = 0.02 * (p / 8) ** 2 * nv * max(1, nr)
    if claim.var_domain != "significands":
        base *= 4   # full exponent range: wide exact sorts
    if claim.var_domain != "significands" and _mixes_exact_and_rounded(claim):
        base *= 50  # rnd(E) compared with exact arithmetic over the full range: very wide sorts
    if engine.sorts is not None and claim.fmt.p == 8 and claim.fmt.exp_bits == 8:
        base *= 100  # bf16's (8, 8) sort: this engine cannot take it (decided at run time)
    return base * engine.cost_factor


def _mixes_exact_and_rounded(claim) -> bool:
    """Does some comparison combine rnd(...) with exact arithmetic on variables outside rnd?"""
    def outside(n):
        if n.kind == "call" and n.value == "rnd":
            return False
        if n.kind in ("add", "sub", "mul", "div") and any(x.kind == "var" for x in n.walk()):
            if not (n.kind == "mul" and any(a.kind == "num" for a in n.args)):
                return True
        return any(outside(a) for a in n.args)
    for node in [claim.expr, *claim.hyps]:
        for c in node.walk():
            if c.kind == "cmp" and any(x.kind == "call" and x.value == "rnd" for x in c.walk()):
                if any(outside(a) for a in c.args):
                    return True
    return False


def _conversion_step(claim):
    """``abs(rnd(E) - E) <= B*abs(E)`` with a hypothesis ``tiny <= abs(E) <= huge`` (any exact E,
    any other hypotheses): implied by the conversion lemma over all reals of the normal range
    (rnd(E) is one rounding of the exact real E), decided by z3 in linear arithmetic. Proves only:
    a violation by some real need not be attained by E, so a failure leaves the claim to the others."""
    from qbound.proofs.scaling import _range_hyp
    if claim.rounding not in ("rne", "rna", "rtz", "sr"):
        return None
    e = claim.report_expr
    if e is None or e.kind != "cmp" or e.value != ("<=",):
        return None
    L, R = e.args
    if not (L.kind == "call" and L.value == "abs" and L.args[0].kind == "sub"):
        return None
    r, E = L.args[0].args
    target = E
    if r.kind == "mul" and r.args[0].kind == "call" and r.args[0].value == "rnd" and r.args[0].args[0].kind == "div":
        # multiplied out: |rnd(a/b)*b - a| <= B|a| with b != 0 is |rnd(a/b) - a/b| <= B|a/b| times |b|
        q = r.args[0].args[0]
        if not (same_node(r.args[1], q.args[1]) and same_node(E, q.args[0])):
            return None
        if not any(h.kind == "cmp" and h.value == ("!=",) and same_node(h.args[0], q.args[1]) and h.args[1].kind == "num"
                   and h.args[1].value == 0 for h in claim.raw_hyps):
            return None
        r, E = r.args[0], q
    if not (r.kind == "call" and r.value == "rnd" and same_node(r.args[0], E)):
        return None
    if R.kind != "mul":
        return None
    B, aE = R.args
    if B.kind != "num":
        B, aE = aE, B
    if not (B.kind == "num" and B.value > 0 and aE.kind == "call" and aE.value == "abs" and same_node(aE.args[0], target)):
        return None
    if not any(_range_hyp(h, claim.fmt) is not None and same_node(_range_hyp(h, claim.fmt), E) for h in claim.raw_hyps):
        return None
    return Step("lemma:conversion", None, claim, 0.2, "rnd(E) is one rounding of an exact real in the normal "
                "range: the conversion lemma over all reals implies the claim", {"kind": "conversion", "bound": B.value})


def _quotient_step(claim):
    """The normal-range quotient lemma, as ``abs(rnd(a/b) - a/b) <= B*abs(a/b)`` or multiplied out
    ``abs(rnd(a/b)*b - a) <= B*abs(a)``, with ``b != 0`` and ``tiny <= abs(a/b) <= huge``."""
    from qbound.proofs.scaling import _range_hyp
    e = claim.report_expr
    if e is None or e.kind != "cmp" or e.value != ("<=",) or len(claim.raw_hyps) != 2:
        return None
    L, R = e.args
    if not (L.kind == "call" and L.value == "abs" and L.args[0].kind == "sub"):
        return None
    x, y = L.args[0].args
    if not (x.kind == "mul" or (x.kind == "call" and x.value == "rnd")):
        return None
    r = x.args[0] if x.kind == "mul" else x
    if not (r.kind == "call" and r.value == "rnd" and r.args[0].kind == "div"):
        return None
    q = r.args[0]
    a, b = q.args
    if not (a.kind == "var" and b.kind == "var" and a.value != b.value):
        return None
    if x.kind == "mul":
        if not (same_node(x.args[1], b) and same_node(y, a)):
            return None
        target = a
    else:
        if not same_node(y, q):
            return None
        target = q
    if R.kind != "mul":
        return None
    B, aE = R.args
    if B.kind != "num":
        B, aE = aE, B
    if not (B.kind == "num" and B.value > 0 and aE.kind == "call" and aE.value == "abs" and same_node(aE.args[0], target)):
        return None
    hs = list(claim.raw_hyps)
    nz = [h for h in hs if h.kind == "cmp" and h.value == ("!=",) and same_node(h.args[0], b)
          and h.args[1].kind == "num" and h.args[1].value == 0]
    rng = [h for h in hs if _range_hyp(h, claim.fmt) is not None and same_node(_range_hyp(h, claim.fmt), q)]
    if len(nz) != 1 or len(rng) != 1:
        return None
    return Step("lemma:quotient", None, claim, 1.0, "the claim is the normal-range quotient lemma: significand "
                "reduction (bit-vectors)", {"kind": "quotient", "bound": B.value, "vars": (a.value, b.value)})


def _lemma_step(claim):
    """A Step for the known product/sum/quotient lemmas, or (None, why)."""
    from qbound.proofs.scaling import _range_hyp
    if claim.rounding in ("rne", "rna", "rtz", "sr") and claim.var_fmt == claim.fmt and not claim.var_domain:
        qs = _quotient_step(claim)
        if qs is not None:
            return qs, ""
    if claim.rounding not in ("rne", "rna", "rtz", "sr") or claim.var_fmt != claim.fmt or claim.var_domain:
        return None, "known lemmas: needs a symmetric rounding mode and variables in the target format"
    e = claim.report_expr
    if e is None or e.kind != "cmp" or e.value not in (("<=",), ("<",)) or len(claim.raw_hyps) != 1:
        return None, "known lemmas: not of the form |rnd(E) - E| <= B*|E| (or <) with one range hypothesis"
    L, R = e.args
    if not (L.kind == "call" and L.value == "abs" and L.args[0].kind == "sub"):
        return None, "known lemmas: left side is not |rnd(E) - E|"
    r, E = L.args[0].args
    if not (r.kind == "call" and r.value == "rnd" and same_node(r.args[0], E) and E.kind in ("mul", "add")):
        return None, "known lemmas: left side is not |rnd(E) - E| with E = a*b or a+b"
    if not (E.args[0].kind == "var" and E.args[1].kind == "var" and E.args[0].value != E.args[1].value):
        return None, "known lemmas: E is not an operation on two distinct variables"
    if R.kind != "mul":
        return None, "known lemmas: right side is not B*|E|"
    B, aE = R.args
    if B.kind != "num":
        B, aE = aE, B
    if not (B.kind == "num" and aE.kind == "call" and aE.value == "abs" and same_node(aE.args[0], E)):
        return None, "known lemmas: right side is not B*|E|"
    h = _range_hyp(claim.raw_hyps[0], claim.fmt)
    if h is None or not same_node(h, E):
        return None, "known lemmas: the hypothesis is not tiny <= abs(E) <= huge"
    kind = "product" if E.kind == "mul" else "sum"
    if B.value <= 0:
        return None, "known lemmas: bound must be positive"
    return Step(f"lemma:{kind}", None, claim, 0.3 if kind == "product" else 1.0,
                f"the claim is the normal-range {kind} lemma: significand"
                f"{'' if kind == 'product' else '/exponent-gap'} reduction (bit-vectors)",
                {"kind": kind, "bound": B.value, "vars": (E.args[0].value, E.args[1].value), "strict": e.value == ("<",)}), ""


def plan(claim, engines=None):
    """Ordered list of Steps and the list of reasons for methods that do not apply."""
    from qbound.proofs.engines import SMT_ORDER, get_engine
    from qbound.proofs.engines.base import Unsupported
    from qbound.proofs.scaling import scale_reduce
    steps, notes = [], []
    conv = _conversion_step(claim)
    if conv is not None:
        steps.append(conv)
    st, why = _lemma_step(claim)
    if st is not None:
        steps.append(st)
    else:
        notes.append(why)
    ex = get_engine("exhaustive")
    enumerated = False
    try:
        n = ex.cases(claim)
        if n <= ENUM_LIMIT:
            enumerated = True
            steps.append(Step("exhaustive", ex, claim, 0.02 + n * SECONDS_PER_CASE, f"{n} assignments"))
        else:
            notes.append(f"exhaustive: {n} assignments exceed the planned limit {ENUM_LIMIT}")
    except Unsupported as exc:
        notes.append(f"exhaustive: {exc}")
    comp = get_engine("compiled")
    try:
        n = comp.cases(claim)
        if not enumerated and n <= COMPILED_LIMIT and comp.available():
            why = f"{n} assignments, compiled multithreaded enumeration with early exit"
            red_s = comp.sign_reduction(claim)
            if red_s.halved:
                why += f"; {red_s.why}"
            n_sr = len(claim_rnd_nodes(claim)) if claim.rounding == "sr" else 0
            cost = COMPILE_SECONDS + n * COMPILED_SECONDS_PER_CASE * (1 + 2 ** n_sr / 8)
            steps.append(Step("compiled", comp, claim, cost, why))
    except Unsupported as exc:
        notes.append(f"compiled: {exc}")
    red = scale_reduce(claim)
    if red.claim is not None:
        try:
            n = ex.cases(red.claim)
            if n <= ENUM_LIMIT:
                steps.append(Step("scale-reduction+exhaustive", ex, red.claim, 0.02 + n * SECONDS_PER_CASE,
                                  f"{red.why}; {n} assignments"))
        except Unsupported as exc:
            notes.append(f"scale-reduction+exhaustive: {exc}")
    else:
        notes.append(f"scale reduction: {red.why}")
    for name in SMT_ORDER:
        eng = get_engine(name)
        if engines is not None and name not in engines:
            continue
        if not eng.available():
            notes.append(f"{name}: not installed")
            continue
        for label, c in (([("scale-reduction+" + name, red.claim)] if red.claim is not None else [])
                         + [(name, claim)]):
            cost = _smt_cost(eng, c)
            steps.append(Step(label, eng, c, cost, "direct floating-point encoding" if c is claim else red.why))
    steps.sort(key=lambda s: s.cost)
    return steps, notes


def _run_step(step, timeout, smt2_dir):
    from qbound.proofs.engines.base import Unsupported
    if step.method == "lemma:conversion":
        from qbound.proofs.reductions import real_conversion
        v, _ = real_conversion(step.claim.fmt, step.claim.rounding, bound=step.extra["bound"], timeout=timeout,
                               smt2_dir=smt2_dir)
        if v.status != "proved":
            return Verdict("unknown", v.engine, v.engine_version, v.seconds,
                           reason=f"conversion lemma over reals: {v.status} (a real violation need not be attained)")
        return v
    if step.method.startswith("lemma:"):
        from qbound.proofs.reductions import product_lemma, quotient_lemma, sum_lemma
        fn = {"product": product_lemma, "sum": sum_lemma, "quotient": quotient_lemma}[step.extra["kind"]]
        strict = {"strict": True} if step.extra.get("strict") else {}   # < (product and sum lemmas only)
        v = fn(step.claim.fmt, step.claim.rounding, bound=step.extra["bound"], solver="bitwuzla",
               timeout=timeout, smt2_dir=smt2_dir, **strict)
        if v.status == "falsified":
            # the reduction's counterexample is replayed in its own claim; replay it in the user's
            v = _replay_in(step.claim, v, step.extra["vars"])
        return v
    try:
        return step.engine.decide(step.claim, timeout=timeout, smt2_dir=smt2_dir)
    except Unsupported as exc:
        return Verdict("unknown", step.method, "", 0.0, reason=f"unsupported: {exc}")


def _replay_in(claim, v, names):
    """Replay the lemma's counterexample (variables a, b) in the user's claim (variables ``names``)."""
    from qbound.proofs.engines.base import counterexample_record
    cx = v.counterexample or {}
    try:
        env = {n: Fraction(cx[o]["decimal"]) for n, o in zip(names, ("a", "b"))}
    except (KeyError, TypeError, ValueError):
        return Verdict("unknown", v.engine, v.engine_version, v.seconds,
                       reason="reduced counterexample could not be mapped back", details=v.details)
    return counterexample_record(claim, env, v.engine, v.engine_version, time.perf_counter() - v.seconds,
                                 v.details)


def _vacuity(step, claim, timeout):
    """True if no assignment satisfies the hypotheses, False if one does, None if unknown."""
    if not claim.hyps:
        return False
    from qbound.proofs.engines import get_engine
    from qbound.proofs.engines.base import Unsupported
    from qbound.proofs.scaling import scale_reduce
    red = scale_reduce(claim).claim
    if red is not None and not red.hyps:
        return False   # every reduced point satisfies the range hypotheses (checked by the reduction)
    c = red if red is not None else (step.claim if step.claim is not None else claim)
    if not c.hyps:
        return False
    ex = get_engine("exhaustive")
    try:
        if ex.cases(c) <= ENUM_LIMIT:
            return not ex.satisfiable(c, timeout=timeout)
    except Unsupported:
        pass
    for name in ("bitwuzla", "z3"):
        eng = get_engine(name)
        if eng.available():
            r = eng.satisfiable(c, timeout=timeout)
            if r is not None:
                return not r
    return None


def decide(claim, timeout=30.0, smt2_dir=None, explain=False, cross_check=False, engines=None) -> Verdict:
    """Decide a built claim by the plan (see module docstring)."""
    t0 = time.perf_counter()
    steps, notes = plan(claim, engines)
    tried = []
    verdict = None
    for i, st in enumerate(steps):
        left = timeout - (time.perf_counter() - t0)
        if left <= 0.05:
            tried.append({"method": st.method, "outcome": "skipped: time budget spent"})
            continue
        # a step may use half of what is left, the last one all of it, so that one badly predicted
        # method cannot starve the cheaper alternatives behind it
        later = [x for x in steps[i + 1:]]
        budget = left if not later else max(min(left, 2.0), left / 2)
        # and leaves room for a later enumeration that is predicted to fit: it decides for certain,
        # an SMT solver predicted cheap may not decide at all
        enum = [x.cost for x in later if _complete(x) and ENUM_RESERVE * x.cost <= left]
        if enum and not _complete(st):
            budget = max(min(left, 2.0), min(budget, left - ENUM_RESERVE * min(enum)))
        if _complete(st):   # an enumeration is not cut short for the methods behind it
            budget = max(budget, min(left, ENUM_RESERVE * st.cost))
        t1 = time.perf_counter()
        v = _run_step(st, budget, smt2_dir)
        if v.status == "unknown" and v.reason.startswith("unsupported: "):
            notes.append(f"{st.method}: {v.reason[len('unsupported: '):]}")
            continue
        tried.append({"method": st.method, "predicted_s": round(st.cost, 4), "outcome": v.status,
                      "seconds": round(time.perf_counter() - t1, 4), **({"reason": v.reason} if v.reason else {})})
        if v.status != "unknown":
            verdict = v
            if st.method.startswith("scale-reduction+"):
                verdict.engine = f"{v.engine}+scale-reduction"
                verdict.details["reduction"] = st.why
            chosen = i
            break
    if verdict is None:
        reasons = notes + [f"{t['method']}: {t.get('reason', t['outcome'])}" for t in tried]
        verdict = Verdict("unknown", "auto", "", 0.0, reason="; ".join(reasons) or "no method applies")
        chosen = None
    if verdict.status == "proved":
        vac = _vacuity(steps[chosen], claim, max(1.0, timeout - (time.perf_counter() - t0)))
        verdict.vacuous = bool(vac)
        if vac is None:
            verdict.details["vacuity"] = "not checked (hypotheses-only query undecided)"
    verdict.seconds = time.perf_counter() - t0   # the whole decision (vacuity check included)
    verdict.details["plan"] = tried
    if explain:
        verdict.details["explain"] = explain_text(steps, notes, tried)
    if cross_check and verdict.status != "unknown":
        verdict.details["cross_check"] = _cross(claim, steps, chosen, verdict, timeout, smt2_dir)
    return verdict


def _cross(claim, steps, chosen, verdict, timeout, smt2_dir):
    """Decide again with a different method (another engine, or enumeration of the reduced claim)."""
    first = steps[chosen]
    base = first.engine.name if first.engine is not None else "lemma"
    for st in steps[chosen + 1:]:
        other = st.engine.name if st.engine is not None else "lemma"
        if other == base:
            continue
        v = _run_step(st, timeout, smt2_dir)
        if v.status == "unknown":
            continue
        if v.status != verdict.status:
            raise Disagreement(f"cross-check disagreement: {first.method} says {verdict.status}, "
                               f"{st.method} says {v.status} (this is a bug; please report the claim)")
        return {"method": st.method, "status": v.status, "seconds": round(v.seconds, 4), "agrees": True}
    return {"method": None, "status": "unknown", "agrees": None,
            "note": "no second method decided the claim within the timeout"}


def explain_text(steps, notes, tried) -> str:
    lines = ["plan (cheapest predicted first):"]
    for i, st in enumerate(steps, 1):
        lines.append(f"  {i}. {st.describe()}")
    if notes:
        lines.append("not applicable:")
        lines += [f"  - {n}" for n in notes]
    if tried:
        lines.append("tried:")
        for t in tried:
            extra = f" in {t['seconds']} s" if "seconds" in t else ""
            lines.append(f"  - {t['method']}: {t['outcome']}{extra}" + (f" ({t['reason'][:160]})" if t.get("reason") else ""))
    return "\n".join(lines)
