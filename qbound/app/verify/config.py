"""Configuration of ``qbound verify``: the embedded defaults, TOML loading and validation.

``qbound verify --print-config`` prints :data:`DEFAULT_TOML`; ``--config FILE`` replaces any of its
sections (a section given in FILE replaces the default section key by key; keys not given keep their
default). Every key is validated: an unknown key is refused with the list of accepted keys and close
matches, a bad value with what is accepted (:class:`numeric.errors.InputError`, exit status 2).

Sections
--------
* top level: ``seeds`` (every experiment is repeated for each seed), ``workers`` (worker processes).
* ``[lemmas]``: which rounding lemmas the proofs layer decides (``proofs.run_suite``).
* ``[derive]``: which derivations the bounds layer runs (``bounds.derive``).
* ``[grid]`` and ``[[grid.case]]``: for each case (optimizer, problem, hyperparameters), every component
  in ``components`` quantized alone (and ``all`` = every component at once) to ``e{exponent_bits}m{M}``
  for M in ``mantissa``, plus the full-precision run, each for every seed. Used to falsify the derived
  bound (measured vs evaluated bound), and for the paper's claims on bits and sensitivity.
* ``[trajectory]``: plans run with ``record_states=True`` on every grid case; the rounding premise,
  the moment envelopes and the descent inequality are checked at every step and coordinate.
* ``[thresholds]``: V stored in each format for each beta2 (lost-update fraction, stagnation lemma),
  and W stored in each format (swamping lemma).
* ``[scaling]``: for T in ``T``, the smallest mantissa per component whose run stays within
  ``factor`` x the full-precision value, fitted against log2 T.
"""
from __future__ import annotations

import copy
import math
import sys

from qbound.numeric.errors import InputError, did_you_mean
from qbound.numeric.harness import MAX_STEPS

DEFAULT_TOML = """\
# qbound verify: embedded default configuration (about 4 minutes on 2 cores).
# Copy it with `qbound verify --print-config > my.toml`, edit, run `qbound verify --config my.toml`.
seeds = [0, 1, 2]
workers = 2

[lemmas]
enabled = true
suite = "default"
formats = ["bf16", "fp16", "fp8_e4m3fn", "fp8_e5m2"]   # [] = the suite's own list
roundings = ["rne", "rtz"]
consts = {beta1 = 0.9, beta2 = 0.999, lr = 0.03, eps = 1e-8}   # the optimizer constants the facts use

[derive]
names = ["adam", "muon"]

[grid]
components = ["W", "G", "M", "V", "all"]
mantissa = [2, 3, 4, 6, 8]
exponent_bits = 8
rounding = "rne"
steps = 300
compare_bits = [2, 3, 4]      # bit counts at which the sensitivity claims are compared

[[grid.case]]
optimizer = "adam"
problem = "rosenbrock"
problem_args = {sigma = 1.0}           # additive uniform noise: seeds differ, intervals are real
hparams = {lr = 0.03, beta1 = 0.0, beta2 = 0.999, eps = 1e-8}

[[grid.case]]
optimizer = "adam"
problem = "matrix-ls"
problem_args = {}
hparams = {lr = 0.03, beta1 = 0.9, beta2 = 0.999, eps = 1e-8}

[[grid.case]]
optimizer = "muon"
problem = "matrix-ls"
problem_args = {}
hparams = {lr = 0.03, beta = 0.9}

[trajectory]
plans = ["W=e8m3,G=e8m3,M=e8m3,V=e8m3", "W=fp8_e4m3fn,G=fp8_e5m2,M=fp8_e4m3fn,V=fp8_e4m3fn"]
steps = 200

[thresholds]
optimizer = "adam"
problem = "quadratic"
problem_args = {kappa = 10.0, sigma = 1.0}   # noisy gradients: the exact v wants to go down as well as up
formats = ["bf16", "fp16", "fp8_e4m3fn"]
beta2 = [0.9, 0.99, 0.999, 0.9999]
rounding = "rne"
steps = 300
hparams = {lr = 0.001, beta1 = 0.0, eps = 1e-8}

[scaling]
optimizer = "adam"
problem = "matrix-ls"
problem_args = {}
components = ["W", "G", "M", "V"]
T = [64, 128, 256, 512, 1024]   # or {min = 64, max = 1024, factor = 2}
mantissa_min = 1
mantissa_max = 14
exponent_bits = 8
rounding = "rne"
metric = "final"         # "final": mean |grad F|^2 over the last 10% of steps; "measured": the bound's quantity
factor = 2.0             # M* = smallest M whose run stays within factor x full precision
lr_scale = 0.5           # alpha = lr_scale / sqrt(T)        (Muon: eta = lr_scale T^-3/4)
one_minus_beta2 = 1.0    # 1 - beta2 = one_minus_beta2 / T   (Muon: 1 - beta = one_minus_beta2 / sqrt(T))
hparams = {beta1 = 0.0, eps = 1e-8}
compare_with = ["muon"]  # the same search for these optimizers too (their defaults + the schedule above)
floor_plans = ["W=e8m4,G=e8m4,M=e8m4,V=e8m4"]   # fixed precision at every T (error floor)
"""

#: ``qbound verify --quick``: the same experiments, smaller (at most 60 s on 2 cores; used by CI).
QUICK_OVERRIDES = {
    "seeds": [0, 1],
    "lemmas": {"formats": ["fp8_e4m3fn", "fp8_e5m2"], "roundings": ["rne"]},   # complete by enumeration, fast
    "grid": {"mantissa": [2, 4, 7], "steps": 150, "compare_bits": [2, 4]},
    "trajectory": {"plans": ["W=e8m3,G=e8m3,M=e8m3,V=e8m3"], "steps": 80},
    "thresholds": {"formats": ["bf16", "fp8_e4m3fn"], "beta2": [0.9, 0.999], "steps": 120},
    "scaling": {"T": [32, 64, 128], "mantissa_max": 10, "components": ["W", "V"]},
}

OPTIMIZERS = ("adam", "adam-torch", "adamw", "muon", "sgdm")
PROBLEMS = ("rosenbrock", "quadratic", "digits-logreg", "digits-mlp", "matrix-ls")
COMPONENTS = ("W", "G", "M", "V")
DERIVATIONS = ("adam", "muon")
#: lemma suites of proofs.suite (kept here so that loading a config does not import the prover)
SUITES = ("default", "quick")


# ----------------------------------------------------------------------------- validators
def _err(path, msg):
    raise InputError(f"config {path}: {msg}")


def _int(lo=None, hi=None):
    def v(x, path):
        if isinstance(x, bool) or not isinstance(x, int):
            _err(path, f"expected an integer, got {x!r}")
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            _err(path, f"expected an integer in [{lo}, {hi}], got {x}")
        return x
    return v


def _float(lo=None, hi=None):
    def v(x, path):
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            _err(path, f"expected a number, got {x!r}")
        x = float(x)
        if not math.isfinite(x):
            _err(path, f"expected a finite number, got {x}")
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            _err(path, f"expected a number in [{lo}, {hi}], got {x}")
        return x
    return v


def _bool(x, path):
    if not isinstance(x, bool):
        _err(path, f"expected true or false, got {x!r}")
    return x


def _str(x, path):
    if not isinstance(x, str):
        _err(path, f"expected a string, got {x!r}")
    return x


def _choice(options):
    def v(x, path):
        if x not in options:
            hint = did_you_mean(x, options, n=2, cutoff=0.4)
            _err(path, f"unknown value {x!r}.{hint} Accepted: {', '.join(options)}.")
        return x
    return v


def _list(item, nonempty=True):
    def v(x, path):
        if not isinstance(x, list):
            _err(path, f"expected a list, got {x!r}")
        if nonempty and not x:
            _err(path, "expected a non-empty list")
        return [item(e, f"{path}[{i}]") for i, e in enumerate(x)]
    return v


def _checked_name(checker_name: str):
    """Validator for a string that numeric.formats.<checker_name> accepts (its message on refusal)."""
    def v(x, path):
        from qbound.numeric import formats
        _str(x, path)
        try:
            getattr(formats, checker_name)(x)
        except InputError as exc:
            _err(path, str(exc))
        return x
    return v


_format = _checked_name("get_format")
_rounding = _checked_name("check_rounding")


def _plan(x, path):
    """A plan string "W=fmt[:rnd],G=...": checked with numeric.quantplan when it exists."""
    _str(x, path)
    try:
        from qbound.numeric.quantplan import QuantPlan
    except ImportError:
        for part in filter(None, x.split(",")):
            comp, _, spec = part.partition("=")
            if comp.strip() not in COMPONENTS:
                _err(path, f"unknown component {comp!r} in plan {x!r}; accepted: {', '.join(COMPONENTS)}")
            fmt, _, rnd = spec.partition(":")
            _format(fmt.strip(), path)
            if rnd:
                _rounding(rnd.strip(), path)
        return x
    try:
        QuantPlan.parse(x)
    except InputError as exc:
        _err(path, str(exc))
    return x


def _dict_any(x, path):
    if not isinstance(x, dict):
        _err(path, f"expected a table {{key = value}}, got {x!r}")
    for k, val in x.items():
        if not isinstance(val, (int, float, str, bool, list)):
            _err(f"{path}.{k}", f"expected a number, string, boolean or list, got {val!r}")
        if isinstance(val, float) and not math.isfinite(val):
            _err(f"{path}.{k}", f"expected a finite number, got {val}")
    return dict(x)


def _component(x, path):
    return _choice(COMPONENTS + ("all",))(x, path)


def _table(spec, required=()):
    def v(x, path):
        if not isinstance(x, dict):
            _err(path, f"expected a table, got {x!r}")
        out = {}
        for k, val in x.items():
            if k not in spec:
                hint = did_you_mean(k, list(spec), n=2, cutoff=0.5)
                _err(f"{path}.{k}" if path else k,
                     f"unknown key.{hint} Accepted keys{' in [' + path + ']' if path else ''}: "
                     f"{', '.join(spec)}.")
            out[k] = spec[k](val, f"{path}.{k}" if path else k)
        for k in required:
            if k not in out:
                _err(path, f"missing required key {k!r}; accepted keys: {', '.join(spec)}")
        return out
    return v


def _t_range(x, path):
    """T: a list of integers, or a table {min, max, factor} (geometric range)."""
    if isinstance(x, dict):
        _table({"min": _int(2, MAX_STEPS), "max": _int(2, MAX_STEPS), "factor": _float(1.01)})(x, path)
        for k in ("min", "max", "factor"):
            if k not in x:
                _err(path, f"a T range needs min, max and factor; missing {k!r}")
        out, t = [], float(x["min"])
        while round(t) <= x["max"]:
            if not out or round(t) != out[-1]:
                out.append(int(round(t)))
            t *= x["factor"]
        return out
    vals = _list(_int(2, MAX_STEPS))(x, path)
    if sorted(set(vals)) != vals:
        _err(path, f"T values must be strictly increasing, got {vals}")
    return vals


CASE_SPEC = {
    "optimizer": _choice(OPTIMIZERS),
    "problem": _choice(PROBLEMS),
    "problem_args": _dict_any,
    "hparams": _dict_any,
    "components": _list(_component),
}

SPEC = {
    "seeds": _list(_int(0, 2 ** 63 - 1)),
    "workers": _int(1, 64),
    "lemmas": _table({"enabled": _bool, "suite": _choice(SUITES), "formats": _list(_format, nonempty=False),
                      "roundings": _list(_rounding, nonempty=False), "timeout": _float(0.1),
                      "consts": _dict_any}),
    "derive": _table({"names": _list(_choice(DERIVATIONS), nonempty=False)}),
    "grid": _table({"components": _list(_component), "mantissa": _list(_int(1, 52)),
                    "exponent_bits": _int(2, 11), "rounding": _rounding, "steps": _int(2, MAX_STEPS),
                    "compare_bits": _list(_int(1, 52), nonempty=False),
                    "case": _list(_table(CASE_SPEC, required=("optimizer", "problem")), nonempty=False)}),
    "trajectory": _table({"plans": _list(_plan, nonempty=False), "steps": _int(2, MAX_STEPS)}),
    "thresholds": _table({"optimizer": _choice(OPTIMIZERS), "problem": _choice(PROBLEMS),
                          "problem_args": _dict_any, "formats": _list(_format, nonempty=False),
                          "beta2": _list(_float(0.0, 1.0)), "rounding": _rounding, "steps": _int(2, MAX_STEPS),
                          "hparams": _dict_any}),
}


SPEC["scaling"] = _table({
    "optimizer": _choice(OPTIMIZERS), "problem": _choice(PROBLEMS), "problem_args": _dict_any,
    "components": _list(_component, nonempty=False), "T": _t_range, "mantissa_max": _int(1, 52),
    "mantissa_min": _int(1, 52), "exponent_bits": _int(2, 11), "rounding": _rounding,
    "factor": _float(1.0), "lr_scale": _float(0.0), "one_minus_beta2": _float(0.0),
    "metric": _choice(("final", "measured")), "compare_with": _list(_choice(OPTIMIZERS), nonempty=False),
    "hparams": _dict_any, "floor_plans": _list(_plan, nonempty=False)})


# ----------------------------------------------------------------------------- loading
def _loads(text: str, source: str) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found]  # Python 3.10 only; not installed here
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config {source}: not valid TOML: {exc}") from None


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def validate(raw: dict) -> dict:
    """Validate a raw config dict (all sections), returning a normalised copy."""
    cfg = _table(SPEC)(raw, "")
    sc = cfg.get("scaling", {})
    if sc and sc.get("mantissa_min", 1) > sc.get("mantissa_max", 52):
        _err("scaling", "mantissa_min must not exceed mantissa_max")
    for i, case in enumerate(cfg.get("grid", {}).get("case", [])):
        case.setdefault("problem_args", {})
        case.setdefault("hparams", {})
        _check_runnable(f"grid.case[{i}]", case["optimizer"], case["problem"], case["hparams"],
                        case["problem_args"])
    for sec in ("thresholds", "scaling"):
        c = cfg.get(sec) or {}
        if "optimizer" in c and "problem" in c:
            _check_runnable(sec, c["optimizer"], c["problem"], c.get("hparams") or {}, c.get("problem_args") or {})
    return cfg


def _check_runnable(path, optimizer, problem, hparams, problem_args) -> None:
    """Build the optimizer and the problem once, so a bad hyperparameter, problem keyword or size is
    refused when the configuration is loaded (exit 2), not after the whole run."""
    from qbound.numeric.harness import build_optimizer, build_problem
    try:
        build_optimizer(optimizer, hparams)
    except InputError as exc:
        _err(f"{path}.hparams", str(exc))
    try:
        build_problem(problem, problem_args)
    except InputError as exc:
        _err(f"{path}.problem_args", str(exc))


def default_config(quick: bool = False) -> dict:
    cfg = _loads(DEFAULT_TOML, "<embedded default>")
    if quick:
        cfg = _merge(cfg, QUICK_OVERRIDES)
    return validate(cfg)


def load_config(path=None, quick: bool = False) -> dict:
    """Defaults (quick or full), with the sections of the TOML file at ``path`` merged over them.

    ``grid.case`` in the file replaces the default list of cases entirely.
    """
    cfg = _loads(DEFAULT_TOML, "<embedded default>")
    if quick:
        cfg = _merge(cfg, QUICK_OVERRIDES)
    if path is not None:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise InputError(f"cannot read config file {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"config {path}: not UTF-8 text (byte {exc.object[exc.start:exc.start + 1]!r} at "
                             f"offset {exc.start}); TOML files are UTF-8") from None
        user = _loads(text, str(path))
        _table(SPEC)(user, "")      # refuse unknown keys and bad values in the file itself
        cfg = _merge(cfg, user)
    return validate(cfg)
