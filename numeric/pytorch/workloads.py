"""Real training workloads that need no download, and :func:`train`, which runs one with a torch
quantized optimizer and returns a :class:`~qbound.numeric.trajectory.Trajectory`.

``charlm``: a small causal transformer (nanoGPT blocks: pre-LayerNorm, causal multi-head attention,
4x GELU MLP, learned positions, tied input/output embedding) trained character-level on the text of
Python's own language reference, ``pydoc_data.topics`` (the topics in sorted order, ~465k characters,
~100 symbols). The split is fixed: the first 90% of the text trains, the last 10% validates. The
metric is the mean cross-entropy (nats per character) on ``eval_batches`` fixed validation windows.
Training windows of ``block`` characters are drawn at offsets from the run's noise stream.

``digits-cnn``: a small CNN (conv 3x3 x8, conv 3x3 x16, 2x2 max-pool, dense 64, dense 10) on
scikit-learn's 8x8 digits (1797 images), a fixed permutation (seed 0) into 1437 training and 360
validation images; metric: validation cross-entropy (and accuracy). Mini-batches from the noise stream.

Presets (``preset=``): "cpu" (the default; ~1e5 parameters, seconds per hundred steps on two cores),
"tiny" (for tests and the default verify run) and "gpu" (larger: 6 layers, 384 wide for charlm).
The model's initial weights depend only on the workload's ``init_seed`` (default 0), so runs of one
workload under different plans and run seeds start from the same point.

One training step t (see :mod:`qbound.numeric.pytorch.optim`): the parameters hold Q_W(x); the
mini-batch loss and its gradient are computed at them in the parameters' dtype (float32 by
default); the optimizer applies Q_G, updates x and the stored states, and writes Q_W(x) back.
Recorded: ``loss[k]`` the training mini-batch loss of step k+1, ``grad_norm2[k]`` its squared
gradient norm (before Q_G), the lost-update fraction and the per-component counts; ``final_loss``
is the validation loss at the final master weights and ``final_grad_norm2`` the squared norm of the
validation gradient there; ``meta["val_curve"]`` lists (step, validation loss) every ``eval_every`` steps.

>>> from qbound.numeric.pytorch.workloads import make_workload
>>> w = make_workload("charlm", preset="tiny")
>>> w.vocab_size > 90, w.spec()["preset"]
(True, 'tiny')
"""
from __future__ import annotations

import math
import time
from functools import lru_cache

import numpy as np

from qbound.numeric.errors import InputError, check_choice
from qbound.numeric.pytorch._torch import require_torch, strip_examples_without_torch, torch
from qbound.numeric.pytorch.harness import StepCounts
from qbound.numeric.quantplan import QuantPlan
from qbound.numeric.trajectory import Trajectory, package_version

__doc__ = strip_examples_without_torch(__doc__)

PRESETS = ("tiny", "cpu", "gpu")


@lru_cache(maxsize=1)
def charlm_text() -> str:
    """The training text: the pydoc topics of this Python, concatenated in sorted key order."""
    import pydoc_data.topics as topics
    return "".join(topics.topics[k] for k in sorted(topics.topics))


@lru_cache(maxsize=1)
def _charlm_data():
    """(vocabulary, int64 codes of the whole text)."""
    text = charlm_text()
    chars = sorted(set(text))
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    lut = np.zeros(int(codes.max()) + 1, dtype=np.int64)
    lut[np.array([ord(c) for c in chars])] = np.arange(len(chars))
    return "".join(chars), lut[codes]


class Workload:
    name = "?"
    PRESET_KW: dict = {}

    def __init__(self, preset: str = "cpu", **kw):
        check_choice(preset, PRESETS, what="preset")
        base = dict(self.PRESET_KW[preset])
        bad = [k for k in kw if k not in base and k != "init_seed"]
        if bad:
            raise InputError(f"workload {self.name} does not take {', '.join(bad)}. "
                             f"Accepted: preset, init_seed, {', '.join(base)}.")
        base.update(kw)
        self.preset = preset
        self.init_seed = int(base.pop("init_seed", 0))
        self.kw = base

    def spec(self) -> dict:
        return {"name": self.name, "preset": self.preset, "init_seed": self.init_seed, **self.kw}

    def defaults(self) -> dict:
        """Default hyperparameters per optimizer name for this workload (not tuned to any claim)."""
        return {}


# ---------------------------------------------------------------------- charlm
def _gpt_classes():
    nn = require_torch().nn
    F = torch.nn.functional

    class Block(nn.Module):
        def __init__(self, d, h, block):
            super().__init__()
            self.h = h
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, 4 * d)
            self.fc2 = nn.Linear(4 * d, d)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
            q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(B, T, C))
            return x + self.fc2(F.gelu(self.fc(self.ln2(x))))

    class CharGPT(nn.Module):
        def __init__(self, vocab, d, h, layers, block):
            super().__init__()
            self.wte = nn.Embedding(vocab, d)
            self.wpe = nn.Embedding(block, d)
            self.blocks = nn.ModuleList([Block(d, h, block) for _ in range(layers)])
            self.ln_f = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab, bias=False)
            self.head.weight = self.wte.weight  # tied, as nanoGPT
            for name, p in self.named_parameters():
                if p.ndim >= 2:
                    std = 0.02 / math.sqrt(2 * layers) if name.endswith(("proj.weight", "fc2.weight")) else 0.02
                    torch.nn.init.normal_(p, 0.0, std)
                elif name.endswith("bias"):
                    torch.nn.init.zeros_(p)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln_f(x))

    return CharGPT


class CharLM(Workload):
    name = "charlm"
    PRESET_KW = {
        "tiny": {"layers": 1, "d": 32, "heads": 2, "block": 32, "batch": 8, "eval_batches": 8},
        "cpu": {"layers": 2, "d": 64, "heads": 4, "block": 64, "batch": 16, "eval_batches": 16},
        "gpu": {"layers": 6, "d": 384, "heads": 6, "block": 256, "batch": 64, "eval_batches": 64},
    }

    def __init__(self, preset="cpu", **kw):
        super().__init__(preset, **kw)
        self.vocab, data = _charlm_data()
        self.vocab_size = len(self.vocab)
        n_train = int(0.9 * len(data))
        self.train_data, self.val_data = data[:n_train], data[n_train:]

    def build(self, device, dtype):
        CharGPT = _gpt_classes()
        k = self.kw
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.init_seed)
            model = CharGPT(self.vocab_size, int(k["d"]), int(k["heads"]), int(k["layers"]), int(k["block"]))
        return model.to(device=device, dtype=dtype)

    def _windows(self, data, starts, device):
        T = int(self.kw["block"])
        idx = starts[:, None] + np.arange(T + 1)[None, :]
        xy = torch.from_numpy(data[idx]).to(device)
        return xy[:, :-1], xy[:, 1:]

    def batch(self, rng, device):
        T, B = int(self.kw["block"]), int(self.kw["batch"])
        starts = rng.integers(0, len(self.train_data) - T - 1, size=B)
        return self._windows(self.train_data, starts, device)

    def val_batches(self, device):
        T, B, nb = int(self.kw["block"]), int(self.kw["batch"]), int(self.kw["eval_batches"])
        n = B * nb
        starts = np.linspace(0, len(self.val_data) - T - 2, n).astype(np.int64)  # fixed, spread over the split
        return [self._windows(self.val_data, starts[i * B:(i + 1) * B], device) for i in range(nb)]

    def loss(self, model, x, y):
        logits = model(x)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1))

    def defaults(self):
        return {"adamw": {"lr": 3e-3, "weight_decay": 0.1}, "adam": {"lr": 3e-3}, "adam-torch": {"lr": 3e-3},
                "sgdm": {"lr": 0.1},
                "muon": {"lr": 0.02, "beta": 0.95, "momentum": "ema", "nesterov": True, "polar": "ns", "scale": "jordan",
                         "adam": "adam-torch", "adam_lr": 3e-3}}

    def tokens_per_step(self) -> int:
        return int(self.kw["batch"]) * int(self.kw["block"])


# ---------------------------------------------------------------------- digits CNN
def _cnn_class():
    nn = require_torch().nn

    class DigitsCNN(nn.Module):
        def __init__(self, c1, c2, hidden):
            super().__init__()
            self.conv1 = nn.Conv2d(1, c1, 3, padding=1)
            self.conv2 = nn.Conv2d(c1, c2, 3, padding=1)
            self.fc1 = nn.Linear(c2 * 16, hidden)
            self.fc2 = nn.Linear(hidden, 10)

        def forward(self, x):
            F = torch.nn.functional
            x = F.relu(self.conv1(x))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc2(F.relu(self.fc1(x.flatten(1))))

    return DigitsCNN


@lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    X = (d.data / 16.0).astype(np.float64).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(0).permutation(len(y))
    n_train = int(0.8 * len(y))
    return X[perm[:n_train]], y[perm[:n_train]], X[perm[n_train:]], y[perm[n_train:]]


class DigitsCNN(Workload):
    name = "digits-cnn"
    PRESET_KW = {"tiny": {"c1": 4, "c2": 8, "hidden": 32, "batch": 32},
                 "cpu": {"c1": 8, "c2": 16, "hidden": 64, "batch": 64},
                 "gpu": {"c1": 32, "c2": 64, "hidden": 256, "batch": 256}}

    def build(self, device, dtype):
        Net = _cnn_class()
        k = self.kw
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.init_seed)
            model = Net(int(k["c1"]), int(k["c2"]), int(k["hidden"]))
        self._dtype = dtype
        return model.to(device=device, dtype=dtype)

    def batch(self, rng, device):
        Xtr, ytr, _, _ = _digits()
        i = rng.integers(0, len(ytr), size=int(self.kw["batch"]))
        return torch.from_numpy(Xtr[i]).to(device, self._dtype), torch.from_numpy(ytr[i]).to(device)

    def val_batches(self, device):
        _, _, Xv, yv = _digits()
        return [(torch.from_numpy(Xv).to(device, self._dtype), torch.from_numpy(yv).to(device))]

    def loss(self, model, x, y):
        return torch.nn.functional.cross_entropy(model(x).float(), y)

    def defaults(self):
        return {"adamw": {"lr": 3e-3, "weight_decay": 0.01}, "adam": {"lr": 3e-3}, "adam-torch": {"lr": 3e-3},
                "sgdm": {"lr": 0.05},
                "muon": {"lr": 0.02, "beta": 0.95, "momentum": "ema", "nesterov": True, "polar": "ns", "scale": "jordan",
                         "adam": "adam-torch", "adam_lr": 3e-3}}

    def tokens_per_step(self) -> int:
        return int(self.kw["batch"])


WORKLOADS = {"charlm": CharLM, "digits-cnn": DigitsCNN}


def make_workload(name, **kw) -> Workload:
    """``charlm`` or ``digits-cnn`` with ``preset`` (tiny, cpu, gpu) and size keywords."""
    if isinstance(name, Workload):
        return name
    check_choice(str(name), WORKLOADS, what="workload")
    return WORKLOADS[str(name)](**kw)


def param_groups(model, optimizer: str, hp: dict):
    """nanoGPT-style groups: weight decay on matrices only; for Muon, embeddings and the output head
    (and every parameter with ndim < 2) go to its Adam rule (``adam_only``), the hidden matrices to Muon."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if optimizer == "muon":
        emb = {id(p) for n, p in named if n.startswith(("wte", "wpe", "head", "fc2.")) and n.count(".") <= 1}
        hidden = [p for n, p in named if p.ndim >= 2 and id(p) not in emb]
        rest = [p for n, p in named if p.ndim < 2 or id(p) in emb]
        return [g for g in ({"params": hidden}, {"params": rest, "adam_only": True}) if g["params"]]
    if optimizer in ("adamw", "adam-torch", "sgdm") and hp.get("weight_decay"):
        dec = [p for n, p in named if p.ndim >= 2]
        nodec = [p for n, p in named if p.ndim < 2]
        return [g for g in ({"params": dec}, {"params": nodec, "weight_decay": 0.0}) if g["params"]]
    return [{"params": [p for _, p in named]}]


def _evaluate(workload, model, device, with_grad=False):
    vb = workload.val_batches(device)
    total = 0.0
    model.zero_grad(set_to_none=True)
    with torch.set_grad_enabled(with_grad):
        for x, y in vb:
            loss = workload.loss(model, x, y) / len(vb)
            if with_grad:
                loss.backward()
            total += float(loss.detach())
    gn2 = None
    if with_grad:
        gn2 = float(sum(float((p.grad.double() ** 2).sum()) for p in model.parameters() if p.grad is not None))
        model.zero_grad(set_to_none=True)
    return total, gn2


def train(workload, optimizer: str, plan=None, steps: int = 200, seed: int = 0, *, hparams: dict | None = None,
          workload_kw: dict | None = None, device: str = "cpu", dtype: str = "float32", eval_every: int | None = None,
          progress=None, threads: int | None = 1) -> Trajectory:
    """Train ``workload`` with the torch quantized optimizer ``optimizer`` under ``plan``; a Trajectory.

    ``hparams`` override the workload's defaults for that optimizer (:meth:`Workload.defaults`).
    Randomness: ``SeedSequence(seed).spawn(2)`` gives the batch stream and the quantizers' streams.
    ``threads``: torch intra-op threads during the run (default 1: these models are small, and sweeps
    parallelize over processes; None leaves torch's setting alone).
    """
    t = require_torch()
    if isinstance(device, str) and device.startswith("cuda") and not t.cuda.is_available():
        raise InputError("--device cuda: no CUDA device is available to torch here (use --device cpu)")
    wl = make_workload(workload, **(workload_kw or {}))
    plan = QuantPlan.parse(plan) if not isinstance(plan, QuantPlan) else plan
    tdt = {"float32": t.float32, "float64": t.float64, "bfloat16": t.bfloat16}.get(dtype)
    if tdt is None:
        raise InputError(f"dtype must be float32, float64 or bfloat16, got {dtype!r}")
    steps, seed = int(steps), int(seed)
    if steps < 0:
        raise InputError(f"steps must be >= 0, got {steps}")
    from qbound.numeric.pytorch.optim import make_torch_optimizer
    key = str(optimizer).strip().lower().replace("_", "-")
    hp = dict(wl.defaults().get(key, {}))
    hp.update(hparams or {})
    old_threads = t.get_num_threads()
    if threads:
        t.set_num_threads(int(threads))
    t0 = time.perf_counter()
    try:
        batch_ss, q_ss = np.random.SeedSequence(seed).spawn(2)
        rng = np.random.default_rng(batch_ss)
        model = wl.build(device, tdt)
        groups = param_groups(model, key, hp)
        opt = make_torch_optimizer(key, groups, quant=plan, seed=q_ss, diagnostics=True, **hp)
        opt.reset_diagnostics()
        params = [p for g in opt.param_groups for p in g["params"]]
        loss = np.full(steps, np.nan)
        gn2 = np.full(steps, np.nan)
        lost = np.full(steps, np.nan)
        counts = StepCounts(steps)
        val_curve = []
        diverged_at = None
        every = int(eval_every) if eval_every else 0
        t_train = 0.0
        for k in range(steps):
            ts = time.perf_counter()
            x, y = wl.batch(rng, device)
            opt.zero_grad(set_to_none=True)
            lval = wl.loss(model, x, y)
            lval.backward()
            loss[k] = float(lval.detach())
            gn2[k] = float(sum(float((p.grad.double() ** 2).sum()) for p in params if p.grad is not None))
            opt.step()
            t_train += time.perf_counter() - ts
            diag = opt.diagnostics()
            lost[k] = diag["lost_update_frac"]
            counts.record(k, diag["counts"])
            if progress is not None:
                progress(k)
            if not math.isfinite(loss[k]) or not all(bool(t.isfinite(w).all()) for w in opt.master_weights()):
                diverged_at = k + 1
                break
            if every and (k + 1) % every == 0 and k + 1 < steps:
                val_curve.append((k + 1, _master_eval(wl, model, opt, device)[0]))
        if diverged_at is None:
            vl, vg = _master_eval(wl, model, opt, device, with_grad=True)
        else:
            vl, vg = float("nan"), float("nan")
        val_curve.append((steps if diverged_at is None else diverged_at, vl))
        diag = opt.diagnostics()
    finally:
        if threads:
            t.set_num_threads(old_threads)
    done = int(np.sum(np.isfinite(loss)))
    meta = {"problem": wl.spec(), "optimizer": {"name": key, **hp}, "plan": str(plan), "plan_detail": plan.to_dict(),
            "steps": steps, "seed": seed, "d": int(sum(p.numel() for p in params)), "record_states": False,
            "backend": "torch", "device": str(device), "dtype": dtype, "version": package_version(),
            "seconds": round(time.perf_counter() - t0, 4), "train_seconds": round(t_train, 4),
            "tokens_per_second": (wl.tokens_per_step() * done / t_train) if t_train > 0 else None,
            "val_curve": val_curve, "v_stats": diag.get("v"),
            "command": f"qbound run {key} --problem {wl.name} --backend torch --device {device} --quant {plan} "
                       f"--steps {steps} --seed {seed}"}
    return Trajectory(loss=loss, grad_norm2=gn2, lost_update_frac=lost, stale_w_frac=np.zeros(steps), counts=counts.counts,
                      final_loss=float(vl), final_grad_norm2=float(vg) if vg is not None else float("nan"),
                      meta=meta, diverged_at=diverged_at)


def _master_eval(wl, model, opt, device, with_grad=False):
    """Validation loss (and squared gradient norm) at the master weights x, not at Q_W(x)."""
    params = [p for g in opt.param_groups for p in g["params"]]
    masters = opt.master_weights()
    swap = [(p, m) for p, m in zip(params, masters) if m is not p]
    saved = [p.detach().clone() for p, _ in swap]
    with torch.no_grad():
        for p, m in swap:
            p.copy_(m)
    try:
        return _evaluate(wl, model, device, with_grad)
    finally:
        with torch.no_grad():
            for (p, _), s in zip(swap, saved):
                p.copy_(s)


__all__ = ["WORKLOADS", "PRESETS", "Workload", "CharLM", "DigitsCNN", "make_workload", "train", "charlm_text",
           "param_groups"]
