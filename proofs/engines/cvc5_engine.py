"""The cvc5 engine (optional ``cvc5`` extra): Float32/Float64 sorts from SMT-LIB2 text."""
from __future__ import annotations

import re

from qbound.proofs.engines.smt import SmtEngine


def read_script(slv, tm, text: str, name: str):
    """Run every command of the SMT-LIB2 script ``text`` on the cvc5 solver ``slv`` except
    ``(check-sat)`` (the caller checks, with its own options); returns the SymbolManager that holds
    the declared terms (for reading a model)."""
    import cvc5
    sm = cvc5.SymbolManager(tm)
    ip = cvc5.InputParser(slv, sm)
    ip.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text.replace("(check-sat)", ""), name)
    while True:
        cmd = ip.nextCommand()
        if cmd.isNull():
            break
        cmd.invoke(slv, sm)
    return sm


class Cvc5Engine(SmtEngine):
    name = "cvc5"
    module = "cvc5"
    sorts = ((8, 24), (11, 53))
    features = frozenset({"fp", "bv"})
    cost_factor = 3.0
    replay = "python -c \"import cvc5,sys\"  # or: cvc5 {path}"

    def version_of(self, cvc5) -> str:
        return str(getattr(cvc5, "__version__", "")) or "cvc5"

    def check_sat(self, text: str, timeout: float):
        """Decide an SMT-LIB2 script with cvc5's input parser: (status, model, reason)."""
        import cvc5
        tm = cvc5.TermManager()
        slv = cvc5.Solver(tm)
        slv.setOption("produce-models", "true")
        slv.setOption("tlimit-per", str(max(1, int(timeout * 1000))))
        slv.setLogic("ALL")
        text = text.replace("(get-model)", "")
        text = re.sub(r"\(set-logic [^)]*\)", "", text)
        sm = read_script(slv, tm, text, "q")
        r = slv.checkSat()
        if r.isUnsat():
            return "unsat", {}, ""
        if not r.isSat():
            return "unknown", {}, f"cvc5: {r}"
        out: dict[str, tuple] = {}
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
