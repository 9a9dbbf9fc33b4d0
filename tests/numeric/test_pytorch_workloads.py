"""The torch workloads (charlm, digits-cnn) and train(): deterministic, learning, honest bookkeeping."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason='the PyTorch backend needs torch: pip install "qbound[torch]"')

from qbound.numeric.errors import InputError  # noqa: E402
from qbound.numeric.pytorch.workloads import charlm_text, make_workload, param_groups, train  # noqa: E402


def test_charlm_data_split_and_vocabulary():
    w = make_workload("charlm", preset="tiny")
    text = charlm_text()
    assert len(w.train_data) + len(w.val_data) == len(text) > 400_000
    assert "".join(w.vocab[i] for i in w.val_data[:40]) == text[len(w.train_data):len(w.train_data) + 40]
    x, y = w.val_batches("cpu")[0]
    assert torch.equal(x[:, 1:], y[:, :-1])  # targets are the next characters
    with pytest.raises(InputError, match="Accepted"):
        make_workload("charlm", preset="huge")
    with pytest.raises(InputError, match="does not take"):
        make_workload("charlm", layerz=3)
    with pytest.raises(InputError, match="Did you mean"):
        make_workload("charml")


def test_charlm_trains_deterministically_and_the_plan_matters():
    a = train("charlm", "adamw", "", 20, 0, workload_kw={"preset": "tiny"})
    b = train("charlm", "adamw", "", 20, 0, workload_kw={"preset": "tiny"})
    c = train("charlm", "adamw", "W=e8m1,M=e8m1", 6, 0, workload_kw={"preset": "tiny"})
    assert np.array_equal(a.loss, b.loss) and a.final_loss == b.final_loss
    assert not np.array_equal(a.loss[:6], c.loss)
    assert a.final_loss < a.loss[0] - 0.5        # it learns: from ln(103) = 4.63 nats down
    assert a.meta["tokens_per_second"] > 0 and a.meta["val_curve"][-1] == (20, a.final_loss)
    s = c.summary()
    assert s["final_loss"] == c.final_loss and s["counts"]["W"]["nan"] == 0


def test_digits_cnn_and_muon_groups():
    w = make_workload("digits-cnn", preset="tiny")
    model = w.build("cpu", torch.float32)
    groups = param_groups(model, "muon", {})
    hidden = {id(p) for p in groups[0]["params"]}
    assert id(model.conv1.weight) in hidden and id(model.fc2.weight) not in hidden and groups[1]["adam_only"]
    tr = train("digits-cnn", "muon", "M=bf16", 20, 1, workload_kw={"preset": "tiny"})
    assert tr.final_loss < tr.loss[0] and tr.diverged_at is None
    with pytest.raises(InputError):
        train("digits-cnn", "adamw", "", 1, 0, device="cuda:7" if not torch.cuda.is_available() else "cpu",
              dtype="float16")
