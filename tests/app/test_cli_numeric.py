"""``qbound formats`` and ``qbound quantize`` run in-process through qbound.app.cli.main."""
import json
from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from qbound.app.cli import main
from qbound.app.commands.numeric_cmds import exact_decimal, parse_value


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_formats_table_and_json(capsys):
    rc, out, _ = run(capsys, "formats")
    assert rc == 0 and "fp8_e4m3fn" in out and "448" in out and "57344" in out
    rc, out, _ = run(capsys, "formats", "--json")
    d = json.loads(out)
    names = [f["name"] for f in d["formats"]]
    assert rc == 0 and "bf16" in names and "version" in d
    e4 = d["formats"][names.index("fp8_e4m3fn")]
    assert e4["max_finite"] == "448" and e4["min_subnormal"] == "1/512"
    rc, out, _ = run(capsys, "formats", "e5m7", "--json")
    assert json.loads(out)["formats"][0]["max_finite"] == "65280"


def test_quantize_bf16_0999(capsys):
    """0.999 -> 1 (0x3f80) under rne and 0.99609375 (0x3f7f) under rtz; ml_dtypes agrees on rne."""
    rc, out, _ = run(capsys, "quantize", "--format", "bf16", "--json", "0.999")
    rec = json.loads(out)["results"][0]
    assert rc == 0 and rec["value"] == "1" and rec["bits"] == "0x3f80"
    assert float(np.float64(0.999).astype(ml_dtypes.bfloat16)) == 1.0
    assert rec["x"] == exact_decimal(0.999) and not rec["input_exact_in_float64"]
    assert Fraction(rec["abs_error"]) == 1 - Fraction(0.999)
    assert Fraction(rec["rel_error"]) == (1 - Fraction(0.999)) / Fraction(0.999)
    rc, out, _ = run(capsys, "quantize", "--format", "bf16", "--rounding", "rtz", "--json", "0.999")
    rec = json.loads(out)["results"][0]
    assert rec["value"] == "0.99609375" and rec["bits"] == "0x3f7f"
    rc, out, _ = run(capsys, "quantize", "--format", "bf16", "0.999")
    assert rc == 0 and "0x3f80" in out and "0.99899999999999999911182158029987476766109466552734375" in out


def test_quantize_values_and_specials(capsys):
    rc, out, _ = run(capsys, "quantize", "-f", "e4m3fn", "--json", "-1e-3", "0x1p-3", "inf", "-inf", "nan", "-0", "500")
    d = json.loads(out)
    vals = {r["input"]: r for r in d["results"]}
    assert rc == 0
    assert vals["0x1p-3"]["value"] == "0.125" and vals["0x1p-3"]["bits"] == "0x20"
    assert vals["-1e-3"]["value"] == "-0.001953125" and vals["-1e-3"]["bits"] == "0x81"
    assert vals["inf"]["value"] == "nan" and vals["-0"]["value"] == "-0" and vals["-0"]["bits"] == "0x80"
    assert vals["500"]["value"] == "nan"
    rc, out, _ = run(capsys, "quantize", "-f", "fp4", "--json", "nan", "100")
    vals = {r["input"]: r for r in json.loads(out)["results"]}
    assert vals["nan"]["value"] == "nan" and vals["nan"]["bits"] is None
    assert vals["100"]["value"] == "6"
    rc, out, _ = run(capsys, "quantize", "-f", "e4m3fn", "--overflow", "saturate", "--json", "500")
    assert json.loads(out)["results"][0]["value"] == "448"


def test_quantize_exact_input(capsys):
    """--exact rounds the decimal itself: 1 + 2^-8 + 1e-29 is above the tie, its float64 is on it."""
    text = "1.00390625000000000000000000001"
    rc, out, _ = run(capsys, "quantize", "-f", "bf16", "--json", text)
    assert json.loads(out)["results"][0]["value"] == "1"
    rc, out, _ = run(capsys, "quantize", "-f", "bf16", "--exact", "--json", text, "0.999")
    recs = json.loads(out)["results"]
    assert recs[0]["value"] == "1.0078125" and recs[0]["x"] == text
    assert recs[1]["abs_error"] == "0.001" and recs[1]["rel_error"] == "1/999"


def test_quantize_sr_is_seeded(capsys):
    args = ["quantize", "-f", "fp8_e5m2", "-r", "sr", "--json"] + ["1.1"] * 20
    _, a, _ = run(capsys, *args, "--seed", "3")
    _, b, _ = run(capsys, *args, "--seed", "3")
    _, c, _ = run(capsys, *args, "--seed", "4")
    va = [r["value"] for r in json.loads(a)["results"]]
    assert va == [r["value"] for r in json.loads(b)["results"]]
    assert va != [r["value"] for r in json.loads(c)["results"]]
    assert set(va) <= {"1", "1.25"} and json.loads(a)["seed"] == 3


@pytest.mark.parametrize("argv,needle", [
    (["quantize", "--format", "bf61", "1"], "bf16"),
    (["quantize", "--format", "e4m3f", "1"], "Did you mean"),
    (["quantize", "--format", "bf16", "--rounding", "rn", "1"], "rne"),
    (["quantize", "--format", "bf16", "--overflow", "sat", "1"], "saturate"),
    (["quantize", "--format", "bf16", "one"], "Accepted"),
    (["quantize", "--format", "bf16", "-r", "sr", "--sr-bits", "0", "1"], "1..64"),
    (["quantize", "--format", "e1m3", "1"], "2 <= X"),
    (["formats", "fp7"], "Accepted"),
])
def test_bad_names_exit_2(capsys, argv, needle):
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and needle in err


def test_parse_and_print_helpers():
    assert parse_value("0x1.8p+1") == (3.0, Fraction(3))
    assert parse_value("-.5")[1] == Fraction(-1, 2)
    assert parse_value("1E2") == (100.0, Fraction(100))
    assert exact_decimal(Fraction(3, 8)) == "0.375" and exact_decimal(-0.0) == "-0"
    assert exact_decimal(2.0**-1074).startswith("0.000") and len(exact_decimal(2.0**-1074)) == 1076
    with pytest.raises(ValueError):
        exact_decimal(Fraction(1, 3))


def test_unexpected_error_is_one_line_unless_debug(monkeypatch, capsys):
    """An internal error prints one line (exit 1); --debug shows the traceback."""
    import pytest

    from qbound.app import cli
    from qbound.app.commands import numeric_cmds

    def boom(args):
        raise RuntimeError("deliberate")
    monkeypatch.setattr(numeric_cmds, "cmd_formats", boom)
    assert cli.main(["formats"]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: deliberate" in err and "Traceback" not in err
    with pytest.raises(RuntimeError):
        cli.main(["--debug", "formats"])


def test_old_spelling_warns_in_one_line(capsys):
    from qbound.app import cli
    assert cli.main(["quantize", "--format", "e2m1", "0.3"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("qbound: warning: 'e2m1' is the IEEE-like e2m1") and err.count("\n") == 1
