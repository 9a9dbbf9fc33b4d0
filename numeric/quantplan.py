"""Quantization plans: which optimizer component is stored in which format, rounded how.

A :class:`QuantPlan` assigns to each component

* ``W`` - the weights the gradient is evaluated at (the paper's Q_W),
* ``G`` - the stochastic gradient (Q_G),
* ``M`` - the first moment / momentum buffer (Q_M),
* ``V`` - the second moment (Q_V),

either ``None`` (kept in float64) or a :class:`CompQuant` = (format, rounding mode). Each quantizer
Q_X rounds every coordinate into its format: Q_X(x) = rnd_X(x), so in the normal range
|Q_X(x) - x| <= q_X |x| with q_X = ``fmt.rel_error_bound(rounding)``.

Two further settings:

* ``master``: ``"fp64"`` (the paper's setting: the master keeps full-precision weights W_t, the
  gradient is taken at Q_W(W_t), the update is applied to W_t in float64) or ``"stored"`` (practice:
  the weights live only in W's format, W_{t+1} = Q_W(W_t - update), so small updates can be lost).
* ``update_format``: precision of the update arithmetic (None = float64). When set, every elementary
  operation of the update rule (and the final subtraction W - update) is rounded to this format with
  round-to-nearest-even, emulating arithmetic carried out in that format.

Text form (``--quant`` on the command line), components in any order, all optional::

    W=bf16,G=fp8_e5m2:sr,M=fp8_e4m3fn,V=bf16,master=stored,update=fp32

A rounding mode follows the format after a colon (rne default, rna, rtz, rup, rdn, sr, or srK for
stochastic rounding with K random bits per value).

``str(plan)`` gives the canonical text, and ``QuantPlan.parse(str(plan)) == plan``. The empty string
(or ``"none"``) is the empty plan: everything in float64.
"""
from __future__ import annotations
from dataclasses import dataclass, replace
from typing import Any

from qbound.numeric.errors import InputError, did_you_mean
from qbound.numeric.formats import FloatFormat, FormatError, ROUNDING_MODES, get_format
from qbound.numeric.modes import RoundingMode

COMPONENTS = ("W", "G", "M", "V")
MASTER_MODES = ("fp64", "stored")
_OTHER_KEYS = ("master", "update")


@dataclass(frozen=True)
class CompQuant:
    """One component's quantizer: a format, a rounding mode (``rne`` by default), and for stochastic
    rounding optionally the number of random bits per value (``sr_bits``, 1..64; None = 64).

    Text form: ``"bf16"``, ``"fp8_e5m2:sr"``, ``"e8m3:sr8"`` (stochastic rounding with 8 random bits,
    which is biased by less than 2^-8 quanta when more than 8 bits are discarded).
    """

    fmt: FloatFormat
    rounding: str = "rne"
    sr_bits: int | None = None

    def __post_init__(self):
        try:
            object.__setattr__(self, "fmt", get_format(self.fmt))
        except FormatError as exc:
            raise InputError(str(exc)) from None
        if self.rounding not in ROUNDING_MODES:
            hint = did_you_mean(self.rounding, ROUNDING_MODES, n=2, cutoff=0.4)
            raise InputError(f"unknown rounding mode {self.rounding!r}.{hint} Accepted: {', '.join(ROUNDING_MODES)} "
                             f"(and srK with K random bits, 1 <= K <= 64).")
        object.__setattr__(self, "rounding", RoundingMode(self.rounding).value)  # a RoundingMode is its name
        if self.sr_bits is not None:
            if self.rounding != "sr":
                raise InputError("sr_bits applies to stochastic rounding only (e.g. 'e8m3:sr8')")
            k = int(self.sr_bits)
            if not (1 <= k <= 64):
                raise InputError(f"stochastic rounding needs 1..64 random bits, got {self.sr_bits}")
            object.__setattr__(self, "sr_bits", None if k == 64 else k)

    @classmethod
    def parse(cls, text: str) -> "CompQuant":
        """``"bf16"``, ``"fp8_e5m2:sr"`` or ``"e8m3:sr8"``."""
        text = text.strip()
        if ":" in text:
            name, mode = text.split(":", 1)
            mode = mode.strip().lower()
            if mode.startswith("sr") and mode[2:].isdigit():
                return cls(_format(name.strip()), "sr", int(mode[2:]))
            return cls(_format(name.strip()), mode)
        return cls(_format(text))

    def __str__(self) -> str:
        if self.rounding == "rne":
            return self.fmt.name
        mode = f"sr{self.sr_bits}" if self.sr_bits is not None else self.rounding
        return f"{self.fmt.name}:{mode}"

    @property
    def q(self):
        """Sharp relative error bound q of this quantizer in the normal range (a Fraction)."""
        return self.fmt.rel_error_bound(self.rounding)

    def to_dict(self) -> dict:
        return {"format": self.fmt.name, "rounding": self.rounding, "sr_bits": self.sr_bits,
                "exp_bits": self.fmt.exp_bits, "man_bits": self.fmt.man_bits}


@dataclass(frozen=True)
class QuantPlan:
    """Per-component quantizers plus the master-weight and update-arithmetic settings (frozen)."""

    W: CompQuant | None = None
    G: CompQuant | None = None
    M: CompQuant | None = None
    V: CompQuant | None = None
    master: str = "fp64"
    update_format: FloatFormat | None = None

    def __post_init__(self):
        for c in COMPONENTS:
            val = getattr(self, c)
            if val is None or isinstance(val, CompQuant):
                continue
            if isinstance(val, (str, FloatFormat)):
                object.__setattr__(self, c, CompQuant.parse(val) if isinstance(val, str) else CompQuant(val))
            elif isinstance(val, (tuple, list)) and len(val) == 2:
                mode = str(val[1]).strip().lower()
                k = int(mode[2:]) if mode.startswith("sr") and mode[2:].isdigit() else None
                object.__setattr__(self, c, CompQuant(val[0], "sr" if k is not None else mode, k))
            else:
                raise InputError(f"component {c}: expected None, a format name, 'fmt:mode' or CompQuant, got {val!r}")
        if self.master not in MASTER_MODES:
            hint = did_you_mean(self.master, MASTER_MODES, n=1, cutoff=0.3)
            raise InputError(f"unknown master mode {self.master!r}.{hint} Accepted: {', '.join(MASTER_MODES)}.")
        if self.master == "stored" and self.W is None:
            raise InputError("master=stored keeps the weights in W's format, so W needs a format (e.g. W=bf16)")
        if self.update_format is not None:
            try:
                object.__setattr__(self, "update_format", get_format(self.update_format))
            except FormatError as exc:
                raise InputError(str(exc)) from None

    # ------------------------------------------------------------------ access
    def __getitem__(self, comp: str) -> CompQuant | None:
        return getattr(self, check_component(comp))

    def get(self, comp: str) -> CompQuant | None:
        return self[comp]

    def quantized(self) -> tuple[str, ...]:
        """The components that have a quantizer, in W, G, M, V order."""
        return tuple(c for c in COMPONENTS if getattr(self, c) is not None)

    @property
    def is_empty(self) -> bool:
        return not self.quantized() and self.update_format is None and self.master == "fp64"

    def with_(self, **changes) -> "QuantPlan":
        """A copy with some fields replaced (components may be given as text)."""
        return replace(self, **changes)

    def q_values(self) -> dict:
        """Per component the relative error bound q_X (a Fraction; 0 when not quantized)."""
        from fractions import Fraction
        return {c: (getattr(self, c).q if getattr(self, c) else Fraction(0)) for c in COMPONENTS}

    # ------------------------------------------------------------------ text / dict
    @classmethod
    def parse(cls, text: str | None) -> "QuantPlan":
        """Parse ``"W=bf16,G=fp8_e5m2:sr,M=fp8_e4m3fn,V=bf16[,master=stored][,update=fp32]"``."""
        if text is None:
            return cls()
        if isinstance(text, QuantPlan):
            return text
        if not isinstance(text, str):
            raise InputError(f"a quantization plan is text like 'W=bf16,V=fp8_e4m3fn', got {type(text).__name__}")
        text = text.strip()
        if text == "" or text.lower() in ("none", "fp64", "empty"):
            return cls()
        kw: dict = {}
        accepted = list(COMPONENTS) + list(_OTHER_KEYS)
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" not in item:
                raise InputError(f"bad plan item {item!r}: expected KEY=VALUE with KEY one of {', '.join(accepted)} "
                                 f"(e.g. 'W=bf16,G=fp8_e5m2:sr')")
            key, val = (s.strip() for s in item.split("=", 1))
            k = key.upper() if key.upper() in COMPONENTS else key.lower()
            if k not in accepted:
                hint = did_you_mean(key, accepted, n=2, cutoff=0.3)
                raise InputError(f"unknown plan key {key!r}.{hint} Accepted: {', '.join(accepted)}.")
            if k in kw or (k == "update" and "update_format" in kw):
                raise InputError(f"plan key {k!r} given twice in {text!r}")
            if k in COMPONENTS:
                kw[k] = None if val.lower() == "none" else CompQuant.parse(val)
            elif k == "master":
                kw["master"] = val.lower()
            else:
                kw["update_format"] = None if val.lower() in ("none", "") else val
        return cls(**kw)

    def __str__(self) -> str:
        parts = [f"{c}={getattr(self, c)}" for c in COMPONENTS if getattr(self, c) is not None]
        if self.master != "fp64":
            parts.append(f"master={self.master}")
        if self.update_format is not None:
            parts.append(f"update={self.update_format.name}")
        return ",".join(parts) if parts else "none"

    def to_dict(self) -> dict:
        return {
            "text": str(self),
            "components": {c: (getattr(self, c).to_dict() if getattr(self, c) else None) for c in COMPONENTS},
            "master": self.master,
            "update_format": self.update_format.name if self.update_format else None,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "QuantPlan":
        if "text" in d:
            return cls.parse(d["text"])
        comps = d.get("components", {})
        kw = {}
        for c in COMPONENTS:
            v = comps.get(c)
            if v:
                kw[c] = CompQuant(v["format"], v.get("rounding", "rne"), v.get("sr_bits"))
        return cls(master=d.get("master", "fp64"), update_format=d.get("update_format"), **kw)

    @classmethod
    def single(cls, comp: str, fmt, rounding: str = "rne", **kw) -> "QuantPlan":
        """Plan quantizing one component only, e.g. ``QuantPlan.single("V", "bf16")``."""
        fields: dict[str, Any] = {check_component(comp): CompQuant(_format(fmt), rounding)}
        fields.update(kw)
        return cls(**fields)


def _format(fmt) -> FloatFormat:
    """get_format, with an unknown name reported as bad input (exit status 2 in the CLI)."""
    try:
        return get_format(fmt)
    except FormatError as exc:
        raise InputError(str(exc)) from None


def check_component(comp: str) -> str:
    if comp in COMPONENTS:
        return comp
    hint = did_you_mean(str(comp).upper(), COMPONENTS, n=1, cutoff=0.3)
    raise InputError(f"unknown component {comp!r}.{hint} Accepted: {', '.join(COMPONENTS)}.")


def mantissa_format(man_bits: int, exp_bits: int = 8):
    """The IEEE-like format e{exp_bits}m{man_bits} used by mantissa sweeps.

    With the default 8 exponent bits the range is that of fp32/bf16, so sweeping ``man_bits`` varies
    only the precision (q = 2^-(m+1)/(1+2^-(m+1)) under rne), never the range.
    """
    return get_format(f"e{int(exp_bits)}m{int(man_bits)}")


# ---------------------------------------------------------------------- applying a plan
COUNT_KINDS = ("overflow", "nan", "underflow")


class Quantizers:
    """A plan bound to random streams: ``qz("M", x)`` returns Q_M(x) and counts what happened.

    Each component (and the update arithmetic ``"U"``) has its own ``numpy.random.Generator`` for
    stochastic rounding, spawned from one ``numpy.random.SeedSequence`` so results depend only on the
    run seed. Per call it adds to ``counts[comp]``:

    * ``overflow``  - finite inputs whose magnitude exceeds the format's largest finite value,
    * ``nan``       - NaN outputs (propagated or created),
    * ``underflow`` - non-zero inputs rounded to zero.

    With ``record=True`` the last (pre, post) pair per (component, parameter index) is kept in
    ``seen`` so the harness can log m_pre / m etc. Components without a quantizer return the input
    array itself (no copy), so an empty plan is exactly float64 arithmetic.
    """

    def __init__(self, plan: QuantPlan, seed_seq=None, *, record: bool = False, overflow: str = "ieee"):
        import numpy as np
        self.plan = plan
        self.overflow = overflow
        if seed_seq is None:
            seed_seq = np.random.SeedSequence(0)
        children = seed_seq.spawn(5)
        self.rngs = {k: np.random.default_rng(s) for k, s in zip(COMPONENTS + ("U",), children)}
        self.counts = {k: dict.fromkeys(COUNT_KINDS, 0) for k in COMPONENTS + ("U",)}
        self.record = record
        self.seen: dict = {}
        self._u = CompQuant(plan.update_format) if plan.update_format is not None else None
        self._huge: dict = {}

    def reset_counts(self):
        for d in self.counts.values():
            for k in d:
                d[k] = 0

    def active(self, comp: str) -> bool:
        return (self._u if comp == "U" else self.plan[comp]) is not None

    def __call__(self, comp: str, x, index: int = 0, *, cq: CompQuant | None = None):
        cq = cq if cq is not None else (self._u if comp == "U" else self.plan[comp])
        if cq is None:
            if self.record:
                self.seen[(comp, index)] = (x, x)
            return x
        out = self.apply(cq, x, comp)
        if self.record:
            self.seen[(comp, index)] = (x, out)
        return out

    def apply(self, cq: CompQuant, x, count_as: str = "U"):
        """Round ``x`` with an explicit CompQuant (e.g. Newton-Schulz products), counting under ``count_as``."""
        import numpy as np
        x = np.asarray(x, dtype=np.float64)
        rng = self.rngs[count_as] if cq.rounding == "sr" else None
        out = _round(x, cq.fmt, cq.rounding, rng, self.overflow, cq.sr_bits)
        c = self.counts[count_as]
        huge = self._huge.get(cq.fmt)
        if huge is None:
            huge = self._huge[cq.fmt] = float(cq.fmt.max_finite)
        if x.size == 0:
            return out
        with np.errstate(invalid="ignore"):
            top = max(float(x.max()), -float(x.min()))  # NaN if any input is NaN
            if not (top <= huge):  # something is NaN, infinite or beyond the largest finite value
                ax = np.abs(x)
                c["overflow"] += int(np.count_nonzero((ax > huge) & (ax != np.inf)))
                c["nan"] += int(np.count_nonzero(out != out))
            # zero rounds to zero, so the zeros of ``out`` that are not zeros of ``x`` are underflows
            zeros_out = int(np.count_nonzero(out == 0))
            if zeros_out:
                c["underflow"] += zeros_out - int(np.count_nonzero(x == 0))
        return out

    @property
    def fusable(self) -> bool:
        """Whether a fused optimizer kernel may stand in for the per-operation calls: not while
        recording (pre, post) pairs (``record=True``), which needs every intermediate array."""
        return not self.record

    def kernel_site(self, comp: str):
        """The constants of component ``comp`` ("M", "V", or "U" for the update arithmetic) for a
        fused kernel (numeric._fused_numba): ``(qi, qf, key)`` with qi = (active, m, emin,
        subnormals, mode code, k random bits) as int64, qf = (huge, over_pos, over_neg, inf_val)
        as float64, and for stochastic rounding the 64-bit key drawn from comp's generator exactly
        as one call of this quantizer draws it (so a fused step consumes the same random numbers
        as the reference). Inactive components give qi[0] = 0 and draw nothing."""
        import numpy as np
        from qbound.numeric._kernel_numba import MODE_CODES
        from qbound.numeric.rounding import _kernel_params, _sr_args
        cq = self._u if comp == "U" else self.plan[comp]
        if cq is None:
            return np.zeros(6, dtype=np.int64), np.zeros(4), 0
        rng = self.rngs[comp] if cq.rounding == "sr" else None
        k, key, _ = _sr_args(cq.rounding, cq.sr_bits, rng, None, ())
        P = _kernel_params(cq.fmt, cq.rounding, self.overflow)
        qi = np.array([1, P["m"], P["emin"], int(P["subn"]), MODE_CODES[cq.rounding], k], dtype=np.int64)
        qf = np.array([P["huge"], P["over_pos"], P["over_neg"], P["inf_val"]], dtype=np.float64)
        return qi, qf, (key or 0)

    def add_counts(self, comp: str, overflow: int, nan: int, underflow: int) -> None:
        """Add a fused kernel's counts for ``comp`` (the same events :meth:`apply` counts)."""
        c = self.counts[comp]
        c["overflow"] += int(overflow)
        c["nan"] += int(nan)
        c["underflow"] += int(underflow)

    def U(self, x, index: int = 0):
        """Round an intermediate result of the update arithmetic (identity when update_format is None)."""
        if self._u is None:
            return x
        return self.apply(self._u, x, "U")


def _round(x, fmt, rounding, rng, overflow, sr_bits=None):
    """numeric.rounding.quantize, on the compiled kernel also for small arrays when numba is there.

    The compiled and the reference kernels are bit-identical (same SR stream too, see
    numeric/rounding.py); per-step optimizer calls on small problems would otherwise be dominated by
    the reference kernel's overhead. The input is float64 here, so the result is float64 too.
    """
    from qbound.numeric.rounding import compiled_kernel, quantize
    kernel = "compiled" if compiled_kernel() is not None else "reference"
    return quantize(x, fmt, rounding, rng=rng, overflow=overflow, sr_bits=sr_bits, kernel=kernel)
