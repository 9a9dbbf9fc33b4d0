"""The claim language and its parser (a strict whitelist over Python's ``ast``; nothing is executed).

A claim is a boolean expression over *variables* (any identifier that is not a reserved name or a
user constant). Each variable ranges over the finite values of the claim's variable format (by
default the target format, including -0). Semantics:

* numbers (``3``, ``0.999``, ``1e-8``) are exact rationals (the decimal, not its float64 value);
* ``+ - * /`` and ``**`` with an integer literal exponent are exact real arithmetic;
  ``sqrt(e)`` is the exact square root; ``abs``, ``min``, ``max`` as usual;
* ``rnd(e)`` rounds the exact real value of ``e`` into the target format with the claim's rounding
  mode (``numeric.rounding.quantize`` semantics, overflow policy "ieee"); for ``sr`` a claim must hold
  for *every* random outcome, i.e. for both neighbours;
* ``u`` (unit roundoff of the rounding mode), ``tiny`` (smallest normal), ``huge`` (largest finite),
  ``minsub`` (smallest subnormal), ``p`` (precision), ``ulp(x)`` (unit in the last place at x);
* ``fma(a, b, c)`` is ``rnd(a*b + c)`` (one rounding of the exact a*b + c);
* comparisons (chains allowed) ``< <= > >= == !=``, ``and``, ``or``, ``not``, ``implies(A, B)``
  (that is ``not A or B``).

Limits (checked before any work): at most 4000 characters, nesting at most MAX_DEPTH levels, decimal
exponents at most MAX_DECIMAL_EXP in magnitude.

Infinities and NaN produced by ``rnd`` (overflow) or by division by zero follow IEEE 754 rules
(comparisons with NaN are false). The parser rejects everything else (attributes, subscripts,
strings, keyword arguments, other calls) with an :class:`~numeric.errors.InputError` whose message
shows the position with a caret.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from qbound.numeric.errors import InputError, did_you_mean

FUNCTIONS = {"rnd": 1, "sqrt": 1, "abs": 1, "min": 2, "max": 2, "ulp": 1, "fma": 3, "implies": 2}
#: the functions that remain "call" nodes after parsing (fma(a, b, c) becomes rnd(a*b + c) and
#: implies(A, B) becomes not A or B): the second dispatch level of :mod:`proofs.claimwalk`
CALL_NAMES = ("rnd", "sqrt", "abs", "min", "max", "ulp")
NAMES = ("u", "tiny", "huge", "minsub", "p")
RESERVED = set(FUNCTIONS) | set(NAMES) | {"and", "or", "not"}

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
_CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}


#: deepest nesting of operations accepted (every later pass is recursive; Python's stack is ~1000)
MAX_DEPTH = 100
#: largest decimal exponent accepted in a numeric literal or a constant (10^400 > 2^1328, far beyond
#: every format; without a cap ``Fraction("1e999999999")`` builds a billion-digit integer)
MAX_DECIMAL_EXP = 400
_NUM_RE = re.compile(r"^[+-]?(\d[\d_]*)?(\.[\d_]*)?([eE][+-]?\d+)?$")


class ClaimSyntaxError(InputError):
    """A claim that is not in the language; the message carries a caret at the position."""


class NodeKind(str, Enum):
    """The kinds of claim nodes (a ``str`` enum: ``NodeKind.ADD == "add"``, so trees built from plain
    strings and from members compare equal). Numeric kinds denote exact real values; boolean kinds
    denote truth values."""

    NUM = "num"      #: an exact rational constant (value: Fraction)
    VAR = "var"      #: a variable ranging over the format's finite values (value: name)
    NAME = "name"    #: a reserved name or user constant before resolution (value: name)
    ADD = "add"      #: exact x + y
    SUB = "sub"      #: exact x - y
    MUL = "mul"      #: exact x * y
    DIV = "div"      #: exact x / y (IEEE at y = 0); value "y0" marks a branch where y == 0
    NEG = "neg"      #: exact -x
    POW = "pow"      #: exact x ** k (value: the integer k)
    CALL = "call"    #: rnd, sqrt, abs, min, max, ulp (value: the function name, one of CALL_NAMES)
    CMP = "cmp"      #: a comparison chain (value: tuple of operators)
    AND = "and"      #: conjunction
    OR = "or"        #: disjunction
    NOT = "not"      #: negation


_KINDS = frozenset(k.value for k in NodeKind)


@dataclass(frozen=True)
class Node:
    """Expression tree node.

    kind: "num" (value Fraction), "var" (value name), "name" (value reserved/const name),
    "add" "sub" "mul" "div" "neg" (args), "pow" (args[0], value int), "call" (value fname, args),
    "cmp" (value tuple of ops, args operands), "and" "or" "not" (args).
    """

    kind: str
    args: tuple = ()
    value: object = None
    pos: int = 0

    def __post_init__(self):
        if self.kind not in _KINDS:
            raise ValueError(f"unknown claim node kind {self.kind!r}; kinds: {sorted(_KINDS)}")

    @property
    def is_bool(self) -> bool:
        return self.kind in ("cmp", "and", "or", "not")

    def walk(self):
        yield self
        for a in self.args:
            yield from a.walk()

    def __str__(self) -> str:
        return to_text(self)


def _caret(text: str, pos: int, msg: str) -> ClaimSyntaxError:
    pos = max(0, min(pos, len(text)))
    return ClaimSyntaxError(f"{msg}\n  {text}\n  {' ' * pos}^")


def parse_expr(text: str, consts=None, *, want_bool: bool = True) -> Node:
    """Parse claim text into a :class:`Node` tree, validating every construct.

    ``consts`` is a mapping of user constant names (they become "name" nodes, resolved later).
    """
    if not isinstance(text, str):
        raise ClaimSyntaxError("a claim must be a string")
    if len(text) > 4000:
        raise ClaimSyntaxError("claim too long (at most 4000 characters)")
    if "\n" in text or "\r" in text:
        raise _caret(text.replace("\n", " ").replace("\r", " "), text.replace("\r", "\n").index("\n"),
                     "a claim is a single line")
    consts = dict(consts or {})
    _check_nesting(text)
    try:
        tree = ast.parse(text.strip() and text, mode="eval")
    except SyntaxError as exc:
        off = (exc.offset or 1) - 1
        raise _caret(text, off, f"syntax error: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise _caret(text, 0, f"claim nested too deeply (at most {MAX_DEPTH} levels)") from None
    _check_depth(tree.body, text)
    node = _convert(tree.body, text, consts)
    if want_bool and not node.is_bool:
        raise _caret(text, 0, "a claim must be a comparison or a boolean combination of comparisons")
    if not want_bool and node.is_bool:
        raise _caret(text, 0, "expected a numeric expression, got a boolean one")
    return node


def _check_nesting(text: str) -> None:
    """Cheap pre-check before ``ast.parse`` (whose C parser recurses too): a run of prefix
    operators or of open parentheses deeper than MAX_DEPTH is refused with a caret."""
    depth = run = 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > MAX_DEPTH:
                raise _caret(text, i, f"claim nested too deeply (at most {MAX_DEPTH} levels)")
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch in "-+~":
            run += 1
            if run > MAX_DEPTH:
                raise _caret(text, i, f"claim nested too deeply (at most {MAX_DEPTH} levels)")
        elif not ch.isspace():
            run = 0
    # "not not not ...": count consecutive 'not' words
    words = re.finditer(r"\S+", text)
    run = 0
    for m in words:
        run = run + 1 if m.group() == "not" else 0
        if run > MAX_DEPTH:
            raise _caret(text, m.start(), f"claim nested too deeply (at most {MAX_DEPTH} levels)")


def _check_depth(tree, text: str) -> None:
    """Iterative depth check of the syntax tree (no recursion): at most MAX_DEPTH levels."""
    stack = [(tree, 1)]
    while stack:
        n, d = stack.pop()
        if d > MAX_DEPTH:
            raise _caret(text, getattr(n, "col_offset", 0),
                         f"claim nested too deeply (at most {MAX_DEPTH} levels; a long sum a+b+c+... "
                         "counts one level per term)")
        stack.extend((c, d + 1) for c in ast.iter_child_nodes(n))


def parse_number(seg: str) -> Fraction:
    """Exact rational of a decimal literal, refusing exponents beyond +-MAX_DECIMAL_EXP.

    >>> parse_number("0.999")
    Fraction(999, 1000)
    >>> parse_number("1e-3")
    Fraction(1, 1000)
    """
    seg = seg.strip().replace("_", "")
    m = _NUM_RE.match(seg)
    if m and m.group(3):
        if abs(int(m.group(3)[1:])) > MAX_DECIMAL_EXP:
            raise ValueError(f"exponent too large in {seg!r} (at most 1e+-{MAX_DECIMAL_EXP})")
    if len(seg) > 1000:
        raise ValueError("number too long (at most 1000 characters)")
    return Fraction(seg)


def _convert(n, text, consts) -> Node:
    pos = getattr(n, "col_offset", 0)
    if isinstance(n, ast.Constant):
        if isinstance(n.value, bool) or not isinstance(n.value, (int, float)):
            raise _caret(text, pos, "only numeric literals are allowed (no strings, booleans or None)")
        seg = ast.get_source_segment(text, n) or repr(n.value)
        try:
            val = parse_number(seg)
        except ValueError as exc:
            raise _caret(text, pos, f"cannot read number {seg!r}: {exc}" if "exponent" in str(exc) or
                         "long" in str(exc) else f"cannot read number {seg!r}") from None
        except ZeroDivisionError:
            raise _caret(text, pos, f"cannot read number {seg!r}") from None
        return Node("num", value=val, pos=pos)
    if isinstance(n, ast.Name):
        name = n.id
        if name in FUNCTIONS:
            raise _caret(text, pos, f"{name} is a function; call it as {name}(...)")
        if name in NAMES or name in consts:
            return Node("name", value=name, pos=pos)
        if name.startswith("_"):
            raise _caret(text, pos, f"names starting with '_' are not allowed: {name!r}")
        return Node("var", value=name, pos=pos)
    if isinstance(n, ast.BinOp):
        op = _BINOPS.get(type(n.op))
        if op is None:
            hint = " (use ** for powers)" if isinstance(n.op, ast.BitXor) else ""
            raise _caret(text, getattr(n.right, "col_offset", pos) - 1,
                         f"operator {type(n.op).__name__} is not allowed{hint}; use + - * / **")
        left = _num(_convert(n.left, text, consts), text)
        if op == "pow":
            k = _int_literal(n.right, text)
            return Node("pow", (left,), value=k, pos=pos)
        right = _num(_convert(n.right, text, consts), text)
        return Node(op, (left, right), pos=pos)
    if isinstance(n, ast.UnaryOp):
        if isinstance(n.op, ast.USub):
            return Node("neg", (_num(_convert(n.operand, text, consts), text),), pos=pos)
        if isinstance(n.op, ast.UAdd):
            return _num(_convert(n.operand, text, consts), text)
        if isinstance(n.op, ast.Not):
            return Node("not", (_bool(_convert(n.operand, text, consts), text),), pos=pos)
        raise _caret(text, pos, f"operator {type(n.op).__name__} is not allowed")
    if isinstance(n, ast.BoolOp):
        kind = "and" if isinstance(n.op, ast.And) else "or"
        return Node(kind, tuple(_bool(_convert(v, text, consts), text) for v in n.values), pos=pos)
    if isinstance(n, ast.Compare):
        ops = []
        for o in n.ops:
            sym = _CMPOPS.get(type(o))
            if sym is None:
                raise _caret(text, pos, f"comparison {type(o).__name__} is not allowed; use < <= > >= == !=")
            ops.append(sym)
        operands = [_num(_convert(v, text, consts), text) for v in [n.left, *n.comparators]]
        return Node("cmp", tuple(operands), value=tuple(ops), pos=pos)
    if isinstance(n, ast.Call):
        if not isinstance(n.func, ast.Name):
            raise _caret(text, pos, "only calls to " + ", ".join(FUNCTIONS) + " are allowed")
        fname = n.func.id
        if fname not in FUNCTIONS:
            hint = did_you_mean(fname, FUNCTIONS, n=2)
            raise _caret(text, pos, f"unknown function {fname!r}.{hint} Allowed: {', '.join(FUNCTIONS)}")
        if n.keywords or any(isinstance(a, ast.Starred) for a in n.args):
            raise _caret(text, pos, f"{fname}() takes plain positional arguments only")
        if len(n.args) != FUNCTIONS[fname]:
            raise _caret(text, pos, f"{fname}() takes {FUNCTIONS[fname]} argument(s), got {len(n.args)}")
        if fname == "implies":
            # implies(A, B) is (not A) or B
            a, b = (_bool(_convert(x, text, consts), text) for x in n.args)
            return Node("or", (Node("not", (a,), pos=pos), b), pos=pos)
        if fname == "fma":
            # fma(a, b, c): one rounding of the exact a*b + c
            a, b, c = (_num(_convert(x, text, consts), text) for x in n.args)
            return Node("call", (Node("add", (Node("mul", (a, b), pos=pos), c), pos=pos),), value="rnd", pos=pos)
        args = tuple(_num(_convert(a, text, consts), text) for a in n.args)
        return Node("call", args, value=fname, pos=pos)
    what = type(n).__name__
    raise _caret(text, pos, f"{what} is not allowed in a claim (allowed: numbers, names, + - * / **, "
                            f"{', '.join(FUNCTIONS)}, comparisons, and/or/not)")


def _int_literal(n, text) -> int:
    neg = False
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
        neg, n = True, n.operand
    if isinstance(n, ast.Constant) and isinstance(n.value, int) and not isinstance(n.value, bool):
        if abs(n.value) > 64:
            raise _caret(text, n.col_offset, "exponent too large (|k| <= 64)")
        return -n.value if neg else n.value
    raise _caret(text, getattr(n, "col_offset", 0), "** needs an integer literal exponent")


def _num(node: Node, text) -> Node:
    if node.is_bool:
        raise _caret(text, node.pos, "expected a number here, got a comparison or boolean")
    return node


def _bool(node: Node, text) -> Node:
    if not node.is_bool:
        raise _caret(text, node.pos, "expected a comparison or boolean here, got a number")
    return node


# ---------------------------------------------------------------------------- printing
_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "add": 5, "sub": 5, "mul": 6, "div": 6, "neg": 7, "pow": 8}


def to_text(n: Node) -> str:
    """Canonical text of a node (re-parses to an equal tree)."""
    k = n.kind
    if k == "num":
        v = n.value
        return str(v.numerator) if v.denominator == 1 else f"({v.numerator}/{v.denominator})"
    if k in ("var", "name"):
        return str(n.value)
    if k == "call":
        return f"{n.value}({', '.join(to_text(a) for a in n.args)})"
    p = _PREC.get(k, 9)

    def wrap(c, strict=False):
        s = to_text(c)
        cp = _PREC.get(c.kind, 9)
        return f"({s})" if (cp < p or (strict and cp == p)) else s
    if k in ("add", "sub", "mul", "div"):
        sym = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[k]
        return f"{wrap(n.args[0])} {sym} {wrap(n.args[1], strict=True)}"
    if k == "neg":
        return f"-{wrap(n.args[0], strict=True)}"
    if k == "pow":
        return f"{wrap(n.args[0], strict=True)}**{n.value}" if n.value >= 0 else f"{wrap(n.args[0], strict=True)}**({n.value})"
    if k == "cmp":
        parts = [wrap(n.args[0], strict=True)]
        for op, a in zip(n.value, n.args[1:]):
            parts += [op, wrap(a, strict=True)]
        return " ".join(parts)
    if k == "not":
        return f"not {wrap(n.args[0], strict=True)}"
    if k in ("and", "or"):
        return f" {k} ".join(wrap(a, strict=True) for a in n.args)
    raise ValueError(k)


def variables(*nodes: Node) -> list[str]:
    """Sorted variable names appearing in the nodes."""
    out = set()
    for nd in nodes:
        for x in nd.walk():
            if x.kind == "var":
                out.add(x.value)
    return sorted(out)


def parse_const(text: str):
    """Parse ``NAME=VALUE`` into (name, exact rational), VALUE a decimal or a fraction a/b; or
    (name, text) when VALUE is an expression of constants using ``rnd`` (e.g. ``rnd(0.999)``: the
    constant rounded into the claim's format, resolved when the claim is built).

    >>> parse_const("b2=0.999")
    ('b2', Fraction(999, 1000))
    >>> parse_const("b2=rnd(0.999)")
    ('b2', 'rnd(0.999)')
    """
    if "=" not in text:
        raise InputError(f"--const expects NAME=VALUE, got {text!r}")
    name, val = text.split("=", 1)
    name = name.strip()
    if not name.isidentifier() or name in RESERVED or name.startswith("_"):
        raise InputError(f"bad constant name {name!r}: use an identifier that is not one of "
                         f"{', '.join(sorted(RESERVED))}")
    val = val.strip()
    if "rnd(" in val.replace(" ", "") or any(op in val for op in ("**", "+", "*", "(")) or \
            (val.count("-") > (1 if val.startswith("-") else 0) and "e-" not in val.lower()):
        node = parse_expr(val, want_bool=False)  # syntax checked now; the value may depend on the format
        if any(x.kind == "var" for x in node.walk()):
            raise InputError(f"constant {name} = {val!r} uses a variable; a constant is numbers, + - * / **, rnd()")
        return name, val
    try:
        if "/" in val:
            a, b = val.split("/", 1)
            return name, parse_number(a) / parse_number(b)
        return name, parse_number(val)
    except ValueError as exc:
        if "exponent" in str(exc) or "long" in str(exc):
            raise InputError(f"bad constant value {val!r} for {name}: {exc}") from None
        raise InputError(f"bad constant value {val!r} for {name}: use a decimal like 0.999, a fraction like "
                         "1/3, or rnd(0.999) for the value rounded into the format") from None
    except ZeroDivisionError:
        raise InputError(f"bad constant value {val!r} for {name}: use a decimal like 0.999 or a fraction like 1/3") from None
