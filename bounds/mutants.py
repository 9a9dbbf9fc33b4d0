"""Mutation testing of a derivation's proof: wrong variants built automatically must not be proved.

A *proof factory* is a callable ``build(overrides=None, domain=None, **symbols) -> ProofChain`` (e.g.
:func:`qbound.bounds.adam.proof_chain`).  :func:`generate` derives mutants from the chain it builds:

* ``drop_term``      drop each additive term of the stated bound (``bound_key``, e.g. ``BOUND0``) and of
  each step conclusion (either side of a relation, inside conjunctions too);
* ``scale_coeff``    halve or double each numeric coefficient (a rational factor other than +-1) of the
  bound and of each step conclusion;
* ``drop_factor``    drop each non-numeric factor that is a power of a sum, e.g. ``(1 + q_M)``,
  ``1/(1 - q_V)``, ``1/sqrt(1 - beta2)``, from a product in the bound or in a step conclusion;
* ``weaken_domain``  weaken each named domain premise (``a <= b`` becomes ``a <= 2 b``, ``a >= b`` becomes
  ``a >= b/2``; a premise whose weakened form is unchanged is dropped).

A mutant is *killed* when some item of its chain is not proved (refuted or unknown within the
timeout); it *survives* when every item is still proved.  Unchanged items hit the obligation cache,
so a mutant costs only its changed obligations.  A surviving mutant is a hole: the mutated part is
not needed, or a check is too weak; survivors are listed by :func:`run`.

>>> import sympy as sp
>>> from qbound.bounds.derivation import ProofChain
>>> from qbound.bounds.obligation import Obligation
>>> x, c = sp.Symbol("x", positive=True), sp.Symbol("c", positive=True)
>>> def build(overrides=None, domain=None, bound=2 * c + 1):
...     ch = ProofChain("demo", overrides=overrides)
...     ch.domain = {"x<=1": sp.Le(x, 1), "c>=1": sp.Ge(c, 1)}
...     ch.domain.update(domain or {})
...     ch.add("s", Obligation("s", (ch.domain["x<=1"],), ch.concl("s", sp.Le(x**2, 1))))
...     ch.add("b", Obligation("b", (ch.fact("s"), ch.domain["c>=1"]), ch.concl("b", sp.Le(x**2 + 2, bound))))
...     ch.goal = ("b", sp.Le(x**2 + 2, bound))
...     return ch
>>> r = run(build, bound_key="bound", base={"bound": 2 * c + 1}, timeout_s=5)
>>> r["total"], r["killed"], [m["name"] for m in r["survivors"]]
(12, 11, ['bound: double 2 in 2*c'])

The survivor is a weaker bound that is still true (nothing pins the constant in this toy); in the Adam
chain the stated bound must equal the solved form (``telescope.closed_form``), which kills it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import sympy as sp

from qbound.bounds.obligation import DEFAULT_CACHE, Discharge, check_rule, discharge, item_relation


@dataclass
class Mutant:
    name: str
    kind: str
    where: str
    kwargs: dict

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "where": self.where}


def _additive_variants(e):
    """Expressions with one additive term of ``e`` dropped (``e`` an Add)."""
    if isinstance(e, sp.Add) and len(e.args) > 1:
        for i, a in enumerate(e.args):
            yield f"drop {a}", sp.Add(*(e.args[:i] + e.args[i + 1:]))


def _subexpr_variants(e, seen=None):
    """(description, kind, mutated e) for every drop_term / scale_coeff / drop_factor site in e."""
    out = []
    for node in sp.preorder_traversal(e):
        if isinstance(node, sp.Add) and len(node.args) > 1:
            for desc, new in _additive_variants(node):
                out.append((desc, "drop_term", e.xreplace({node: new})))
        if isinstance(node, sp.Mul):
            c, rest = node.as_coeff_Mul()
            if c.is_Rational and c not in (1, -1):
                out.append((f"halve {c} in {node}", "scale_coeff", e.xreplace({node: (c / 2) * rest})))
                out.append((f"double {c} in {node}", "scale_coeff", e.xreplace({node: (2 * c) * rest})))
            for i, f in enumerate(node.args):
                base = f.base if isinstance(f, sp.Pow) else f
                if isinstance(base, sp.Add) and not f.is_Number:
                    new = sp.Mul(*(node.args[:i] + node.args[i + 1:]))
                    out.append((f"drop factor {f} in {node}", "drop_factor", e.xreplace({node: new})))
    uniq, keys = [], set()
    for desc, kind, new in out:
        if new == e:
            continue
        k = sp.srepr(new)
        if k in keys:
            continue
        keys.add(k)
        uniq.append((desc, kind, new))
    return uniq


def _relation_variants(rel):
    if isinstance(rel, sp.And):
        out = []
        for i, a in enumerate(rel.args):
            for desc, kind, new in _relation_variants(a):
                out.append((desc, kind, sp.And(*(rel.args[:i] + (new,) + rel.args[i + 1:]), evaluate=False)))
        return out
    if isinstance(rel, sp.core.relational.Relational):
        out = []
        for side in ("lhs", "rhs"):
            e = getattr(rel, side)
            for desc, kind, new in _subexpr_variants(e):
                args = (new, rel.rhs) if side == "lhs" else (rel.lhs, new)
                try:
                    r = rel.func(*args, evaluate=False)
                except TypeError:
                    r = rel.func(*args)
                out.append((f"{side}: {desc}", kind, r))
        return out
    return []


def _weaken(rel):
    if isinstance(rel, (sp.Le, sp.Lt)):
        return rel.func(rel.lhs, 2 * rel.rhs) if rel.rhs != 0 else rel.func(rel.lhs, rel.rhs + 1)
    if isinstance(rel, (sp.Ge, sp.Gt)):
        return rel.func(rel.lhs, rel.rhs / 2) if rel.rhs != 0 else rel.func(rel.lhs, rel.rhs - 1)
    return sp.true


def chain_from_items(name: str, items_fn):
    """A proof factory for a derivation that lists its items as (step, item) pairs without a
    :class:`~qbound.bounds.derivation.ProofChain`: an override replaces an obligation's conclusion (no
    flow into later items, so only a conclusion that its own obligation must reject is killed)."""
    import dataclasses

    from qbound.bounds.derivation import ProofChain

    def build(overrides=None, domain=None, **_):
        ch = ProofChain(name, overrides=overrides)
        for step, it in items_fn():
            if getattr(it, "kind", "") == "obligation":
                new = ch.concl(it.name, it.conclusion)
                if new is not it.conclusion:
                    it = dataclasses.replace(it, conclusion=new)
            ch.add(step, it)
        return ch
    return build


def generate(build, bound_key: str | None, base: dict, terms_key: str | None = None, max_per_site: int | None = None) -> list:
    """All mutants of the chain that ``build()`` returns (see the module docstring)."""
    ch = build()
    muts: list = []
    if bound_key:
        for desc, kind, new in _subexpr_variants(base[bound_key]):
            muts.append(Mutant(f"bound: {desc}", kind, bound_key, {bound_key: new}))
    for name in sorted(ch.concl_names):
        rel = ch.conclusions[name]
        vs = _relation_variants(rel)
        if max_per_site:
            vs = vs[:max_per_site]
        for desc, kind, new in vs:
            muts.append(Mutant(f"{name}: {desc}", kind, name, {"overrides": {name: new}}))
    for dname, rel in ch.domain.items():
        w = _weaken(rel)
        muts.append(Mutant(f"domain {dname}: {rel} -> {w}", "weaken_domain", dname, {"domain": {dname: w}}))
    seen: dict = {}
    for m in muts:  # the same description at two sites of one relation: number them
        k = seen.get(m.name, 0)
        seen[m.name] = k + 1
        if k:
            m.name = f"{m.name} #{k + 1}"
    return muts


def evaluate(build, mutant: Mutant, timeout_s: float = 5, engines=("sympy", "z3"), cache=None) -> dict:
    """Build and prove one mutant, stopping at the first item that is not proved."""
    t0 = time.perf_counter()
    cache = DEFAULT_CACHE if cache is None else cache
    try:
        ch = build(**mutant.kwargs)
    except Exception as exc:  # a mutant SymPy cannot even build is rejected
        return {"killed": True, "by": "build", "detail": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - t0}
    if ch.goal_error():
        return {"killed": True, "by": "goal", "detail": ch.goal_error()[:300], "seconds": time.perf_counter() - t0}
    items = ch.items()
    rels = {it.name: item_relation(it) for it in items}
    for it in items:  # a rule application must conclude what its rule yields from its premises (cheap: first)
        if getattr(it, "kind", "") == "rule":
            ok, why = check_rule(it, rels)
            if ok is False:
                return {"killed": True, "by": it.name, "status": "refuted", "detail": f"rule conclusion: {why}"[:300],
                        "seconds": time.perf_counter() - t0}
    # only the changed items (cache misses) need an engine: an unchanged item is the proved original
    def miss(it):
        obs = [it.base, it.step] if getattr(it, "kind", "") == "induction" else [it]
        return any(getattr(o, "kind", "") == "obligation" and cache.get(o, tuple(engines)) is None for o in obs)
    for it in [it for it in items if getattr(it, "kind", "") != "rule" and miss(it)]:
        d: Discharge = discharge(it, engines=engines, timeout_s=timeout_s, cache=cache)
        if not d.proved:
            return {"killed": True, "by": it.name, "status": d.status, "detail": d.detail[:300], "seconds": time.perf_counter() - t0}
    names = {it.name for it in items}
    for it in items:
        if getattr(it, "kind", "") == "rule" and not getattr(it, "valid", True):
            return {"killed": True, "by": it.name, "status": "unknown", "detail": f"rule does not apply: {it.why}"[:300],
                    "seconds": time.perf_counter() - t0}
        if getattr(it, "kind", "") == "rule" and not all(p in names for p in it.premises):
            return {"killed": True, "by": it.name, "status": "unknown", "detail": "rule premise missing", "seconds": time.perf_counter() - t0}
    return {"killed": False, "by": None, "seconds": time.perf_counter() - t0}


def run(build, bound_key: str | None, base: dict, timeout_s: float = 5, engines=("sympy", "z3"), limit: int | None = None,
        kinds: tuple | None = None, progress=None) -> dict:
    """Generate and evaluate every mutant; returns the kill rate, per-kind counts and the survivors."""
    t0 = time.perf_counter()
    muts = generate(build, bound_key, base)
    if kinds:
        muts = [m for m in muts if m.kind in kinds]
    if limit:
        muts = muts[:limit]
    results = []
    for i, m in enumerate(muts):
        r = evaluate(build, m, timeout_s=timeout_s, engines=engines)
        results.append((m, r))
        if progress:
            progress(i + 1, len(muts), m, r)
    killed = sum(1 for _, r in results if r["killed"])
    by_kind: dict = {}
    for m, r in results:
        k = by_kind.setdefault(m.kind, {"total": 0, "killed": 0})
        k["total"] += 1
        k["killed"] += int(r["killed"])
    return {"total": len(results), "killed": killed, "kill_rate": (killed / len(results)) if results else 1.0,
            "by_kind": by_kind, "survivors": [m.to_dict() for m, r in results if not r["killed"]],
            "killed_by": {m.name: r.get("by") for m, r in results if r["killed"]},
            "seconds": round(time.perf_counter() - t0, 2), "timeout_s": timeout_s}


def factory(name: str):
    """(build, bound_key, base symbols) of a named derivation's proof, for :func:`run`."""
    if name == "adam":
        from qbound.bounds import adam as A
        return A.proof_chain, "BOUND0", A.PROOF_SYMBOLS
    if name == "muon":
        from qbound.bounds import muon as Mu
        if hasattr(Mu, "proof_chain"):
            return Mu.proof_chain, getattr(Mu, "PROOF_BOUND_KEY", None), getattr(Mu, "PROOF_SYMBOLS", {})
        return chain_from_items("muon", Mu.proof_items), None, {}
    raise KeyError(name)


def chain_key(build) -> str:
    """SHA-256 over the keys of every obligation of the chain ``build()`` returns (identifies the proof)."""
    import hashlib

    from qbound.bounds.obligation import iter_obligations
    ch = build()
    return hashlib.sha256("\n".join(o.key() for o in iter_obligations(ch.items())).encode()).hexdigest()


def _record_path(name: str, cache_dir: str | None = None) -> str:
    import os

    from qbound.bounds.obligation import default_cache_dir
    return os.path.join(cache_dir or default_cache_dir(), f"mutants-{name}.json")


def record(name: str, result: dict, cache_dir: str | None = None) -> str:
    """Store a mutation run next to the obligation cache, keyed by the proof it tested."""
    import json
    import os
    build, _, _ = factory(name)
    path = _record_path(name, cache_dir)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump(dict(result, chain_key=chain_key(build), derivation=name), fh, indent=1, default=str)
    return path


def recorded(name: str, cache_dir: str | None = None) -> dict | None:
    """The stored mutation run of ``name`` if it tested the current proof (same chain key), else None."""
    import json
    try:
        with open(_record_path(name, cache_dir)) as fh:
            rec = json.load(fh)
    except (OSError, ValueError):
        return None
    build, _, _ = factory(name)
    return rec if rec.get("chain_key") == chain_key(build) else None
