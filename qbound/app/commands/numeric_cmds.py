"""``qbound formats`` and ``qbound quantize``: the format registry and the rounding kernel by hand.

Thin glue over numeric.formats and numeric.rounding (imported inside the handlers).

Input values for ``qbound quantize`` (decided here, documented in ``--help``):

* decimal numbers (``0.999``, ``-1e-3``, ``+12``, ``.5``), C99 hex floats (``0x1p-3``,
  ``-0x1.8p+1``), ``inf``, ``-inf``, ``nan`` (any case);
* by default the text is first read as a float64 (correctly rounded, as Python's ``float`` does) and
  that float64 is rounded into the format: the same thing ``quantize(float(text), fmt)`` does. The
  output shows the float64 exactly and says whether the text was exact;
* with ``--exact`` the exact rational value of the text is rounded instead (no double rounding
  through float64), by :func:`numeric.rounding.quantize_exact`;
* decimal exponents beyond +-10000 (hex: +-40000) are refused, to keep exact arithmetic small.

Every printed value is exact: results and absolute errors are binary (or, with ``--exact``,
decimal) fractions and so have finite decimal expansions; relative errors are printed as an exact
fraction n/d next to a float approximation.
"""
from __future__ import annotations

import json
import re
import sys
from fractions import Fraction

from qbound.numeric.errors import InputError

_DEC = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:e([+-]?\d+))?$")
_HEX = re.compile(r"^([+-]?)0x([0-9a-f]*)(?:\.([0-9a-f]*))?(?:p([+-]?\d+))?$")
_SPECIAL = {"inf": float("inf"), "+inf": float("inf"), "-inf": float("-inf"), "infinity": float("inf"),
            "+infinity": float("inf"), "-infinity": float("-inf"), "nan": float("nan"), "+nan": float("nan"),
            "-nan": float("nan")}
_NEG_NUMBER = re.compile(r"^-(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$|^-inf(?:inity)?$|^-nan$|^-0x[0-9a-f.]+(?:p[+-]?\d+)?$",
                         re.IGNORECASE)
#: the longest number text accepted (a decimal this long is still rounded exactly)
MAX_DIGITS = 20000
ACCEPTED_VALUES = "decimal (0.999, -1e-3), hex float (0x1p-3, -0x1.8p+1), inf, -inf, nan"


# ------------------------------------------------------------------ parsing and printing numbers
def parse_value(text: str):
    """(float64 value, exact Fraction or None for inf/NaN) of a command-line number."""
    t = text.strip().lower().replace("_", "")
    if t in _SPECIAL:
        return _SPECIAL[t], None
    m = _DEC.match(t)
    if m:
        if m.group(1) is not None and (len(m.group(1)) > 8 or abs(int(m.group(1))) > 10000):
            raise InputError(f"{_short_text(text)}: decimal exponent beyond +-10000 is not accepted")
        if len(t) > MAX_DIGITS:
            raise InputError(f"{_short_text(text)}: more than {MAX_DIGITS} characters is not accepted")
        from decimal import Decimal
        return float(t), Fraction(Decimal(t))  # Decimal: no limit on the digits of int(str)
    m = _HEX.match(t)
    if m and (m.group(2) or m.group(3)):
        sign, ip, fp, ex = m.group(1), m.group(2) or "", m.group(3) or "", m.group(4) or "0"
        if len(ex) > 8 or abs(int(ex)) > 40000 or len(ip + fp) > MAX_DIGITS:
            raise InputError(f"{_short_text(text)}: binary exponent beyond +-40000 or more than {MAX_DIGITS} "
                             f"hex digits is not accepted")
        mant = int(ip + fp, 16) if (ip + fp) else 0
        val = Fraction(mant, 16 ** len(fp)) * Fraction(2) ** int(ex)
        if sign == "-":
            val = -val
        return float.fromhex(t), val
    raise InputError(f"cannot read {_short_text(text)} as a number. Accepted: {ACCEPTED_VALUES}.")


def _int_str(n: int) -> str:
    """str(n) without Python's 4300-digit guard (inputs here are already bounded by MAX_DIGITS and
    the exponent limits, so the text stays small)."""
    get = getattr(sys, "get_int_max_str_digits", None)
    if get is None:  # pragma: no cover - Python < 3.11 has no guard
        return str(n)
    old = get()
    sys.set_int_max_str_digits(0)
    try:
        return str(n)
    finally:
        sys.set_int_max_str_digits(old)


def _short_text(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:30] + "...") + f" ({len(text)} characters)"


def exact_decimal(value) -> str:
    """Exact decimal expansion of a float or a Fraction whose denominator is 2^a 5^b."""
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        if value == 0:
            return "-0" if str(value).startswith("-") else "0"
    f = Fraction(value)
    n, d = f.numerator, f.denominator
    a = (d & -d).bit_length() - 1
    rest, b = d >> a, 0
    while rest % 5 == 0:
        rest //= 5
        b += 1
    if rest != 1:
        raise ValueError(f"{f} has no finite decimal expansion")
    k = max(a, b)
    digits = _int_str(abs(n) * 10 ** k // d).rjust(k + 1, "0")
    whole, frac = (digits[:-k], digits[-k:].rstrip("0")) if k else (digits, "")
    return ("-" if n < 0 else "") + whole + ("." + frac if frac else "")


def _frac_str(f: Fraction) -> str:
    return _int_str(f.numerator) if f.denominator == 1 else f"{_int_str(f.numerator)}/{_int_str(f.denominator)}"


def _short(f: Fraction) -> str:
    """Compact display of an exact constant: 2^k for powers of two, else exact if short, else approx."""
    if f > 0 and f.numerator & (f.numerator - 1) == 0 and f.denominator & (f.denominator - 1) == 0:
        k = f.numerator.bit_length() - f.denominator.bit_length()
        if abs(k) >= 10:
            return f"2^{k}"
    s = exact_decimal(f)
    return s if len(s) <= 14 else f"{float(f):.6g}"


# ------------------------------------------------------------------ registration
def register(sub):
    p = sub.add_parser("formats", help="table of the floating-point formats and their exact constants",
                       description="List the registered formats (or the named ones, including eXmY) with their exact "
                                   "constants. --json prints every constant as an exact fraction string.")
    p.add_argument("names", nargs="*", metavar="FORMAT", help="formats to show (default: the registry)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_formats)

    q = sub.add_parser(
        "quantize", help="round numbers into a format; print exact values, bit patterns and errors",
        description="Round each VALUE into --format and print the result as an exact decimal, its bit pattern, and "
                    "the exact absolute and relative error. VALUE is decimal, hex float, inf or nan. By default the "
                    "text is first read as the nearest float64 (as Python's float() does) and that float64 is rounded; "
                    "--exact rounds the exact decimal value instead. Example: qbound quantize --format bf16 0.999",
        epilog=f"Accepted values: {ACCEPTED_VALUES}. Negative values may be given directly (-1e-3).")
    q.add_argument("values", nargs="+", metavar="VALUE")
    q.add_argument("--format", "-f", required=True, dest="fmt", metavar="F",
                   help="format name, alias or eXmY (see qbound formats)")
    q.add_argument("--rounding", "-r", default="rne", metavar="R", help="rne, rna, rtz, rup, rdn or sr (default rne)")
    q.add_argument("--overflow", default="ieee", metavar="P", help="ieee (default) or saturate")
    q.add_argument("--seed", type=int, default=0, help="seed of the random bits for --rounding sr (default 0)")
    q.add_argument("--sr-bits", type=int, default=None, metavar="K", help="random bits per value for sr (1..64, default 64)")
    q.add_argument("--exact", action="store_true", help="round the exact value of the text, not its float64")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_quantize)
    # argparse treats "-1e-3" or "-inf" as an option; let such arguments be values
    q._negative_number_matcher = _NEG_NUMBER


# ------------------------------------------------------------------ formats
def cmd_formats(args):
    from qbound.numeric.formats import get_format, registry

    fmts = [get_format(n) for n in args.names] if args.names else list(registry().values())
    if args.json:
        from qbound.app.cli import version
        print(json.dumps({"version": version(), "command": "qbound formats " + " ".join(args.names) + " --json",
                          "formats": [f.describe() for f in fmts]}, indent=2, sort_keys=True))
        return 0
    from rich.console import Console
    from rich.table import Table

    t = Table(title="qbound formats (long constants shown approximately; --json gives them exactly)")
    for col in ("name", "aliases", "bits", "e", "m", "bias", "policy", "subn", "p", "emin", "emax",
                "max finite", "min normal", "min subnormal", "u (rne)", "rel. bound (rne)"):
        t.add_column(col, justify="left" if col in ("name", "aliases", "policy") else "right",
                     no_wrap=col != "aliases")
    for f in fmts:
        t.add_row(f.name, ", ".join(f.aliases), str(f.total_bits), str(f.exp_bits), str(f.man_bits), str(f.bias),
                  f.policy, "yes" if f.subnormals else "no", str(f.p), str(f.emin), str(f.emax),
                  _short(f.max_finite), _short(f.min_normal), _short(f.min_subnormal),
                  _short(f.unit_roundoff("rne")), _frac_str(f.rel_error_bound("rne")))
    # full width when piped (rich would otherwise squeeze the table into 80 columns)
    Console(width=None if sys.stdout.isatty() else 220).print(t)
    return 0


# ------------------------------------------------------------------ quantize
def quantize_records(values, fmt, rounding="rne", overflow="ieee", seed=0, sr_bits=None, exact=False) -> list[dict]:
    """One record per input text: exact input, result, bit pattern, exact errors (see module docstring)."""
    import numpy as np

    from qbound.numeric.formats import check_rounding, get_format
    from qbound.numeric.rounding import check_overflow, quantize, quantize_exact

    fmt = get_format(fmt)
    check_rounding(rounding)
    check_overflow(overflow)
    if not isinstance(seed, int) or seed < 0:
        raise InputError(f"--seed must be a non-negative integer, got {seed}")
    if sr_bits is not None and not (1 <= sr_bits <= 64):
        raise InputError(f"--sr-bits must be in 1..64, got {sr_bits}")
    parsed = [parse_value(v) for v in values]
    floats = np.array([p[0] for p in parsed], dtype=np.float64)
    rng = np.random.default_rng(seed) if rounding == "sr" else None
    if exact:
        xs = [p[1] if p[1] is not None else p[0] for p in parsed]
        q = quantize_exact(xs, fmt, rounding, rng=rng, sr_bits=sr_bits, overflow=overflow,
                           negative_zero=np.signbit(floats))
    else:
        q = quantize(floats, fmt, rounding, rng=rng, sr_bits=sr_bits, overflow=overflow)
    recs = []
    for text, (xf, xq), qv in zip(values, parsed, q.tolist()):
        X = xq if (exact and xq is not None) else (Fraction(xf) if np.isfinite(xf) else None)
        rec = {"input": text,
               "x": exact_decimal(X) if X is not None and not (X == 0 and np.signbit(xf)) else exact_decimal(xf),
               "x_float64_hex": xf.hex() if np.isfinite(xf) else repr(xf),
               "input_exact_in_float64": xq is None or bool(np.isfinite(xf) and Fraction(xf) == xq),
               "value": exact_decimal(qv),
               "value_float": qv if np.isfinite(qv) else repr(qv)}
        try:
            bits = fmt.encode(qv)
            rec["bits"] = fmt.hex(bits)
        except ValueError:
            rec["bits"] = None  # e.g. NaN in a format that has no NaN
        if X is not None and np.isfinite(qv):
            err = abs(Fraction(qv) - X)
            rec["abs_error"] = exact_decimal(err)
            rec["rel_error"] = _frac_str(err / abs(X)) if X != 0 else ("0" if err == 0 else None)
            rec["rel_error_float"] = float(err / abs(X)) if X != 0 else (0.0 if err == 0 else None)
        else:
            rec["abs_error"] = "nan" if (qv != qv or X is None and xf != xf) else "inf"
            if X is None and qv == xf:
                rec["abs_error"] = "0"  # inf -> inf
            rec["rel_error"] = None
            rec["rel_error_float"] = None
        recs.append(rec)
    return recs


def cmd_quantize(args):
    from qbound.numeric.formats import get_format

    from qbound.app.cli import version

    fmt = get_format(args.fmt)
    recs = quantize_records(args.values, fmt, args.rounding, args.overflow, args.seed, args.sr_bits, args.exact)
    cmd = ["qbound", "quantize", "--format", fmt.name, "--rounding", args.rounding, "--overflow", args.overflow]
    if args.rounding == "sr":
        cmd += ["--seed", str(args.seed)] + (["--sr-bits", str(args.sr_bits)] if args.sr_bits else [])
    if args.exact:
        cmd.append("--exact")
    cmd += ["--"] + list(args.values)
    if args.json:
        out = {"version": version(), "format": fmt.name, "exp_bits": fmt.exp_bits, "man_bits": fmt.man_bits,
               "rounding": args.rounding, "overflow": args.overflow,
               "seed": args.seed if args.rounding == "sr" else None,
               "sr_bits": (args.sr_bits or 64) if args.rounding == "sr" else None,
               "exact_input": args.exact, "command": " ".join(cmd), "results": recs}
        print(json.dumps(out, indent=2, sort_keys=True))
        return 0
    w = sys.stdout.write
    extra = f", seed {args.seed}, {args.sr_bits or 64} random bits" if args.rounding == "sr" else ""
    w(f"{fmt.name} (e{fmt.exp_bits}m{fmt.man_bits}, p={fmt.p}, {fmt.policy}), rounding {args.rounding}, "
      f"overflow {args.overflow}{extra}\n")
    for r in recs:
        how = "exact rational of the text" if args.exact else (
            "float64, exactly the text" if r["input_exact_in_float64"] else "float64 nearest to the text")
        w(f"{r['input']}\n")
        w(f"  input      {r['x']}   ({how})\n")
        w(f"  quantized  {r['value']}   bits {r['bits'] if r['bits'] else 'none (' + fmt.name + ' has no such value)'}\n")
        w(f"  abs error  {r['abs_error']}\n")
        if r["rel_error"] is not None:
            w(f"  rel error  {r['rel_error_float']:.6e}   (exactly {r['rel_error']})\n")
        else:
            w("  rel error  undefined\n")
    return 0
