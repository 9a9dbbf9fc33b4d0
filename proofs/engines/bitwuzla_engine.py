"""The bitwuzla engine: the fastest floating-point solver here, restricted by its Python wheel's
parser to the standard sorts Float16/32/64/128 (plus bit-vectors). The query is the SMT-LIB2 text of
the encoding, so what it decides is exactly what ``--smt2-dir`` writes."""
from __future__ import annotations

from qbound.proofs.engines.smt import STANDARD, SmtEngine


class BitwuzlaEngine(SmtEngine):
    name = "bitwuzla"
    module = "bitwuzla"
    sorts = STANDARD
    features = frozenset({"fp", "bv"})
    cost_factor = 1.0
    replay = ("python -c \"import bitwuzla as b,sys; tm=b.TermManager(); o=b.Options(); "
              "p=b.Parser(tm,o); p.parse(sys.argv[1])\" {path}")
