"""check-config and the derive/mantissa/floor subcommands."""
import json

import pytest

from qbound.bounds.check_config import check_config, parse_plan
from qbound.app.cli import main


def test_check_config_entries():
    res = check_config("adam", "W=bf16,V=bf16", {"beta1": 0.0, "beta2": 0.999, "lr": 1e-3, "eps": 1e-8}, 1000,
                       constants={"R": 10, "L": 1, "d": 2, "Delta": 1, "X0": 1})
    items = {e["item"]: e for e in res["entries"]}
    assert items["round.W"]["q"] == "1/257"
    assert items["round.G"]["holds"] is True
    assert any(k.startswith("constant.beta2") for k in items)
    assert res["bound"] is not None and res["bound"] > 0


def test_check_config_condition_failure_reported():
    res = check_config("adam", "M=fp8_e4m3fn", {"beta1": 0.99, "beta2": 0.9, "lr": 1e-3, "eps": 1e-8}, 1000,
                       constants={"R": 10, "L": 1, "d": 2, "Delta": 1, "X0": 1})
    assert not res["all_conditions_hold"] and res["bound"] is None


def test_cli_paths(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["mantissa", "muon", "--T", "10000", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["bits"]["M"] >= 1
    assert main(["floor", "adam", "--quant", "G=bf16"]) == 0
    assert main(["check-config", "adam", "--quant", "W=bf17", "--T", "10", "--lr", "1", "--beta1", "0",
                 "--beta2", "0.9", "--eps", "1e-8"]) == 2
    assert main(["derive", "adma"]) == 2
    assert main(["mantissa", "adam", "--T", "abc"]) == 2


def test_plan_parse_rejects_bad_component():
    from qbound.numeric.errors import InputError
    with pytest.raises(InputError):
        parse_plan("Q=bf16")
