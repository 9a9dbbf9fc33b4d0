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

    def version_of(self, bitwuzla) -> str:
        return bitwuzla.version()

    def check_sat(self, text: str, timeout: float):
        """Decide an SMT-LIB2 script with bitwuzla's parser: (status, model, reason)."""
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
        out: dict[str, tuple] = {}
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
