"""bench prove's direct (unreduced) product query: built by our SMT-LIB2 generator, decided through
the solver's Engine, the same verdict as the query built with z3's API; a wrong constant is refuted."""
from __future__ import annotations

import pytest

from qbound.app.bench.prove import direct_product_query
from qbound.numeric.formats import get_format
from qbound.proofs.reductions import decide_query

FP16 = get_format("fp16")


def test_direct_query_proves_the_lemma():
    """(bitwuzla, the solver the bench times: z3 needs minutes on this Float128 query)"""
    assert decide_query(direct_product_query(FP16), "bitwuzla", 60.0)[0] == "unsat"


def test_a_wrong_constant_is_refuted():
    """k = 2^p + 2 claims a bound below the attained u/(1+u): a counterexample exists."""
    assert decide_query(direct_product_query(FP16, k=(1 << FP16.p) + 2), "bitwuzla", 60.0)[0] == "sat"


def test_same_verdict_with_z3s_api():
    z3 = pytest.importorskip("z3")
    assert decide_query(direct_product_query(FP16, S=z3), "bitwuzla", 60.0)[0] == "unsat"
