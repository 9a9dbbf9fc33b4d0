"""Our SMT-LIB2 generator (proofs.engines.smtlib) against z3's own API: the same encoder code on both
backends must give the same verdicts (and the corpus truth), bitwuzla and cvc5 run without z3, and a
deliberately broken generator is caught."""
import subprocess
import sys

import pytest

from qbound.proofs.exact import build_claim

from corpus16 import CORPUS  # noqa: E402
from smtlib_compare import agree, backend_verdicts  # noqa: E402

FAST = [46, 47, 48, 49, 50, 52, 53, 55, 56, 57, 25, 26, 32, 35, 38, 39, 9, 10]


def _claim(e):
    return build_claim(e["claim"], e["fmt"], e["mode"], assume=e["assume"], consts=e["consts"])


@pytest.mark.parametrize("i", FAST)
def test_backends_agree_with_truth(i):
    e = CORPUS[i]
    v = backend_verdicts(_claim(e), timeout=20.0)
    assert len([k for k in v if not k.startswith("_")]) >= 2
    assert agree(v, e["truth"]), v


@pytest.mark.slow
@pytest.mark.parametrize("i", range(len(CORPUS)))
def test_backends_agree_whole_corpus(i):
    e = CORPUS[i]
    assert agree(backend_verdicts(_claim(e), timeout=10.0), e["truth"])


def test_broken_generator_is_caught(monkeypatch):
    """fp.mul printed as fp.add: the comparison must see a disagreement (or a wrong verdict)."""
    from qbound.proofs.engines import smtlib
    monkeypatch.setattr(smtlib, "fpMul", lambda rm, x, y: smtlib.Expr("fp.add", (rm, x, y), x.sort))
    bad = 0
    for i in (48, 49, 58):
        e = CORPUS[i]
        bad += not agree(backend_verdicts(_claim(e), timeout=20.0), e["truth"])
    assert bad > 0


def test_bitwuzla_and_cvc5_run_without_z3():
    code = ("import sys; sys.modules['z3'] = None\n"
            "from qbound.proofs import prove\n"
            "from qbound.numeric.formats import get_format\n"
            "from qbound.proofs.reductions import product_lemma\n"
            "for eng in ('bitwuzla', 'cvc5'):\n"
            "    v = prove('rnd(a - b) == a - b', 'fp32', assume=['b <= 2*a', 'a <= 2*b'], engine=eng, timeout=60)\n"
            "    assert v.status == 'proved', (eng, v.reason)\n"
            "    v = prove('rnd(a - b) == a - b', 'fp32', assume=['b <= 3*a', 'a <= 3*b'], engine=eng, timeout=60)\n"
            "    assert v.status == 'falsified', (eng, v.reason)\n"
            "assert product_lemma(get_format('fp32'), 'rne', solver='bitwuzla').status == 'proved'\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "ok" in r.stdout, r.stderr[-2000:]
