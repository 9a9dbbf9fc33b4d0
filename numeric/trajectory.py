"""The record of one optimizer run: per-step arrays, final values, and what is needed to rerun it.

Indexing convention (step t = 1..T, T = ``steps``; x_0 the initial master weights, x_t after t updates):

* ``loss[k] = F(x_k)`` and ``grad_norm2[k] = ||grad F(x_k)||_2^2`` at the *master* weights, k = 0..T-1,
  i.e. at the points where the gradients of steps 1..T are taken (so ``grad_norm2.mean()`` is the
  (1/T) sum_{t<T} ||grad F(x_t)||^2 that the convergence bounds control); ``final_loss`` and
  ``final_grad_norm2`` are F(x_T) and ||grad F(x_T)||^2.
* ``lost_update_frac[k]``: fraction of the d coordinates whose stored master value did not change in
  step k+1 although the update delta (as the optimizer computed it: float64, or the plan's
  update_format) was non-zero, i.e. rounding of W - delta (to float64, update_format, or W's format
  when master="stored") swallowed it.
* ``stale_w_frac[k]``: fraction of coordinates with delta != 0 whose *quantized* weight Q_W(x) (what
  the gradient sees) did not change (0 when W is not quantized; equals lost_update_frac when
  master="stored").
* ``counts[comp][kind][k]``: for comp in W, G, M, V, U (U = update arithmetic / Newton-Schulz
  products) and kind in overflow, nan, underflow, the number of coordinates of step k+1 (see
  :class:`numeric.quantplan.Quantizers`).
* ``states`` (only with record_states=True): arrays of shape (T, d), row k for step k+1: "x" (master
  x_k), "xq" (Q_W(x_k)), "g" (stored gradient), "m_pre"/"m", "v_pre"/"v" (before/after Q_M, Q_V;
  NaN for coordinates whose optimizer has no such state). Not written to JSON unless asked.
* ``diverged_at``: first step whose new weights were not finite (the run stops there; later entries
  are NaN), or None.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

COUNT_COMPONENTS = ("W", "G", "M", "V", "U")


def package_version() -> str:
    try:
        from importlib.metadata import version as _v
        return _v("qbound")
    except Exception:
        return "0+unknown"


def _clean(v):
    """JSON-safe float: non-finite values become None."""
    v = float(v)
    return v if math.isfinite(v) else None


def _arr_to_list(a):
    a = np.asarray(a, dtype=np.float64)
    return [x if math.isfinite(x) else None for x in a.tolist()]


def _list_to_arr(lst):
    return np.array([np.nan if x is None else x for x in lst], dtype=np.float64)


@dataclass
class Trajectory:
    loss: np.ndarray
    grad_norm2: np.ndarray
    lost_update_frac: np.ndarray
    stale_w_frac: np.ndarray
    counts: dict
    final_loss: float
    final_grad_norm2: float
    meta: dict = field(default_factory=dict)
    states: dict | None = None
    diverged_at: int | None = None

    @property
    def steps(self) -> int:
        return int(len(self.loss))

    def count_totals(self) -> dict:
        return {c: {k: int(np.sum(v)) for k, v in kinds.items()} for c, kinds in self.counts.items()}

    def summary(self) -> dict:
        """Scalar summary (what a sweep stores per run)."""
        g = self.grad_norm2
        T = len(g)
        tail = g[max(0, T - max(1, T // 10)):]
        with np.errstate(invalid="ignore"):
            return {
                "final_loss": _clean(self.final_loss),
                "final_grad_norm2": _clean(self.final_grad_norm2),
                "mean_grad_norm2": _clean(np.mean(g)) if T else None,
                "min_grad_norm2": _clean(np.nanmin(g)) if T and np.any(np.isfinite(g)) else None,
                "tail_grad_norm2": _clean(np.mean(tail)) if T else None,
                "mean_lost_update_frac": _clean(np.mean(self.lost_update_frac)) if T else None,
                "mean_stale_w_frac": _clean(np.mean(self.stale_w_frac)) if T else None,
                "counts": self.count_totals(),
                "diverged_at": self.diverged_at,
            }

    def to_dict(self, *, include_states: bool = False) -> dict:
        d = {
            "meta": self.meta,
            "summary": self.summary(),
            "loss": _arr_to_list(self.loss),
            "grad_norm2": _arr_to_list(self.grad_norm2),
            "lost_update_frac": _arr_to_list(self.lost_update_frac),
            "stale_w_frac": _arr_to_list(self.stale_w_frac),
            "counts": {c: {k: np.asarray(v).astype(int).tolist() for k, v in kinds.items()}
                       for c, kinds in self.counts.items()},
            "final_loss": _clean(self.final_loss),
            "final_grad_norm2": _clean(self.final_grad_norm2),
            "diverged_at": self.diverged_at,
        }
        if include_states and self.states is not None:
            d["states"] = {k: [_arr_to_list(row) for row in v] for k, v in self.states.items()}
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(**kw), sort_keys=True)

    def save(self, path, **kw):
        """Write the trajectory as JSON, atomically (:func:`~qbound.numeric.jsonlstore.atomic_file`):
        a failed write (a full disk, Ctrl-C) leaves an earlier file at ``path`` whole."""
        from qbound.numeric.jsonlstore import atomic_file
        text = json.dumps(self.to_dict(**kw), sort_keys=True, indent=1)
        with atomic_file(path) as fh:
            fh.write(text)

    @classmethod
    def from_dict(cls, d: dict) -> "Trajectory":
        states = None
        if d.get("states"):
            states = {k: np.array([_list_to_arr(r) for r in v]) for k, v in d["states"].items()}
        return cls(
            loss=_list_to_arr(d["loss"]), grad_norm2=_list_to_arr(d["grad_norm2"]),
            lost_update_frac=_list_to_arr(d["lost_update_frac"]), stale_w_frac=_list_to_arr(d["stale_w_frac"]),
            counts={c: {k: np.asarray(v, dtype=np.int64) for k, v in kinds.items()} for c, kinds in d["counts"].items()},
            final_loss=np.nan if d["final_loss"] is None else d["final_loss"],
            final_grad_norm2=np.nan if d["final_grad_norm2"] is None else d["final_grad_norm2"],
            meta=d.get("meta", {}), states=states, diverged_at=d.get("diverged_at"))

    @classmethod
    def load(cls, path) -> "Trajectory":
        with open(path) as fh:
            return cls.from_dict(json.load(fh))
