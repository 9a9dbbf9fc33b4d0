"""The lemma suite as a package of families: each family owns its lemma ids, the families together
give the documented ids in the canonical order, no state is kept between runs, and every SMT query
the suite issues lands in ``smt2_dir``."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

import qbound.proofs.suite as suite
from qbound.numeric.formats import get_format
from qbound.proofs.suite import DEFAULT_CONSTS, FAMILIES, lemmas_for
from qbound.proofs.suite.common import Unit

ROOT = Path(__file__).resolve().parents[2]

#: family module -> the prefix of every lemma id it yields
PREFIX = {"conversion": "conv.", "arith": "op.", "subnormal": "sub.", "overflow": "overflow.",
          "exactness": "exact.", "optimizer": "opt.", "stochastic": "sr."}

#: cheap units that together reach every family and every branch on format width
UNITS = [("fp4_e2m1", "rne"), ("fp4_e2m1", "sr"), ("fp6_e2m3", "rtz"), ("fp8_e4m3fn", "rne")]


def _documented_ids() -> set[str]:
    """The lemma ids the package docstring lists, with {a,b} alternatives expanded."""
    ids = set()
    for tok in re.findall(r"``([a-z0-9_.{},]+)``", suite.__doc__):
        m = re.fullmatch(r"(.*)\{(.*)\}(.*)", tok)
        ids.update(m.group(1) + alt + m.group(3) for alt in m.group(2).split(",")) if m else ids.add(tok)
    return {i for i in ids if "." in i}


def _by_family(fmt, mode, families=FAMILIES):
    u = Unit(get_format(fmt), mode, DEFAULT_CONSTS)
    return [(f.__module__.rsplit(".", 1)[1], [r.lemma_id for r in f(u)]) for f in families]


@pytest.fixture(scope="module")
def per_family():
    return {unit: _by_family(*unit) for unit in UNITS}


def test_each_family_owns_its_ids(per_family):
    assert [f.__module__.rsplit(".", 1)[1] for f in FAMILIES] == list(PREFIX)
    for unit, fams in per_family.items():
        for name, ids in fams:
            assert all(i.startswith(PREFIX[name]) for i in ids), (unit, name, ids)


def test_families_give_the_documented_ids(per_family):
    seen = {i for fams in per_family.values() for _, ids in fams for i in ids}
    # opt.lr_swamping needs a format of 16 bits at most with a swamping threshold: fp8_e4m3fn rne has one
    assert seen == _documented_ids()


def test_a_missing_family_is_noticed():
    """The check above can fail: drop one family and an id goes missing."""
    fams = tuple(f for f in FAMILIES if not f.__module__.endswith(".exactness"))
    seen = {i for unit in UNITS for _, ids in _by_family(*unit, families=fams) for i in ids}
    assert _documented_ids() - seen == {"exact.sterbenz", "exact.pow2"}


def test_lemmas_for_is_the_families_in_order(per_family):
    for (fmt, mode), fams in per_family.items():
        got = [r.lemma_id for r in lemmas_for(get_format(fmt), mode, DEFAULT_CONSTS)]
        assert got == [i for _, ids in fams for i in ids]


def test_public_names_stay_importable():
    from qbound.proofs import run_suite
    from qbound.proofs.suite import SUITES, iter_suite, sr_expectation  # noqa: F401
    assert set(suite.__all__) <= set(dir(suite))
    assert run_suite("quick", formats=["fp4_e2m1"], roundings=["sr"], progress=False)[-1].lemma_id == "sr.bias"


def _smt_records_without_file(results):
    """Records decided by an SMT solver (also inside the optimizer analyses) whose query was not written."""
    missing = []
    for r in results:
        verdicts = [r.verdict.to_dict()] + [v for v in r.data.values() if isinstance(v, dict) and "engine" in v]
        for v in verdicts:
            if re.search(r"z3|bitwuzla|cvc5", v["engine"]) and not (v["details"] or {}).get("smt2"):
                missing.append((r.lemma_id, v["engine"]))
    return missing


def test_every_smt_query_goes_to_smt2_dir(tmp_path):
    fmt = get_format("fp6_e3m2")
    res = list(lemmas_for(fmt, "rne", DEFAULT_CONSTS, smt2_dir=tmp_path))
    ids = {r.lemma_id for r in res if re.search(r"z3|bitwuzla|cvc5", r.verdict.engine)}
    assert {"overflow.threshold", "opt.beta1"} <= ids
    assert _smt_records_without_file(res) == []
    assert len(list(tmp_path.glob("*.smt2"))) >= len(ids)
    # the check can fail: without smt2_dir nothing is written and every SMT record is reported
    assert len(_smt_records_without_file(list(lemmas_for(fmt, "rne", DEFAULT_CONSTS)))) >= len(ids)


def test_no_state_left_between_runs(tmp_path):
    """smt2_dir travels with the unit: a run with it does not make the next run write files."""
    fmt = get_format("fp6_e3m2")
    list(lemmas_for(fmt, "rtz", DEFAULT_CONSTS, smt2_dir=tmp_path))
    written = set(tmp_path.iterdir())
    assert written
    list(lemmas_for(fmt, "rne", DEFAULT_CONSTS))
    assert set(tmp_path.iterdir()) == written


def _suite_diff():
    spec = importlib.util.spec_from_file_location("suite_diff", ROOT / "tools" / "suite_diff.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_suite_diff_tells_a_changed_verdict(tmp_path):
    sd = _suite_diff()
    doc = {"results": [r.to_dict() for r in lemmas_for(get_format("fp4_e2m1"), "rne", DEFAULT_CONSTS)]}
    doc = json.loads(json.dumps(doc, default=str))
    again = {"results": [r.to_dict() for r in lemmas_for(get_format("fp4_e2m1"), "rne", DEFAULT_CONSTS)]}
    again = json.loads(json.dumps(again, default=str))
    assert sd.compare(doc, again) == ([], [])          # timings differ, nothing else
    again["results"][3]["verdict"]["status"] = "unknown"
    again["results"][5]["data"]["bound"] = "1/2"
    verdicts, fields = sd.compare(doc, again)
    assert len(verdicts) == 1 and "unknown" in verdicts[0] and len(fields) == 1 and "bound" in fields[0]
    (tmp_path / "a.json").write_text(json.dumps(doc))
    (tmp_path / "b.json").write_text(json.dumps(again))
    assert sd.main([str(tmp_path / "a.json"), str(tmp_path / "a.json")]) == 0
    assert sd.main([str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 1
    assert sd.main([str(tmp_path / "a.json")]) == 2


def _suite_imports(name: str) -> set[str]:
    """The qbound.proofs.suite modules that suite module ``name`` imports (also inside functions)."""
    import ast
    tree = ast.parse((ROOT / "proofs" / "suite" / f"{name}.py").read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        else:
            continue
        out.update(m.split(".")[3] for m in mods if m.startswith("qbound.proofs.suite."))
    return out


def test_a_family_imports_no_other_family():
    for name in PREFIX:
        assert _suite_imports(name) <= {"common"}, name
    # the check sees imports: the runner imports every family
    assert set(PREFIX) <= _suite_imports("runner")
