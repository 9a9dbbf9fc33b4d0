"""The one dispatcher over claim nodes (proofs.claimwalk, issue 9): every handler is reachable, a
missing handler is one uniform error, every evaluator handles every node kind (and the tests notice
when one does not), and same_node is structural equality (order and values matter)."""
from fractions import Fraction

import pytest

from qbound.proofs import claimwalk
from qbound.proofs.claims import CALL_NAMES, FUNCTIONS, ClaimSyntaxError, Node, NodeKind, parse_expr
from qbound.proofs.claimwalk import NodeVisitor, UnhandledNode, dispatch_keys, same_node
from qbound.proofs.engines.base import Unsupported
from qbound.proofs.engines.compiled import _Gen, margins
from qbound.proofs.engines.fpenc import Encoder, _DirectOp
from qbound.proofs.exact import _Interval, _Point, build_claim, evaluate
from qbound.proofs.scaling import _AbsInterval, _Analysis, _NotHomogeneous

#: a claim with a node of every kind and every call name (``tiny`` stays a name node when parsed)
EVERY = ("not (a + 1 - b*c/d > -e**2 and abs(f) < sqrt(g)) or min(a, b) <= max(a, b) == rnd(ulp(h)) "
         "or tiny < 0")

#: the evaluators converted to the dispatcher: each must handle every kind and call name
EVALUATORS = [_Point, _Interval, Encoder, _Analysis, _AbsInterval, _Gen]


def _key(n: Node) -> str:
    return f"call:{n.value}" if n.kind == "call" else n.kind


def _recorder():
    """A visitor with one handler per dispatch key, each returning its key and the extra args."""
    def handler(key):
        return lambda self, node, *args, **kw: (key, args, kw)
    attrs = {}
    for key in dispatch_keys():
        name = "visit_" + key.replace(":", "_")
        attrs[name] = handler(key)
    return type("Recorder", (NodeVisitor,), attrs)


def test_dispatch_keys_are_the_node_kinds_and_call_names():
    # written out from NodeKind, independently of claimwalk
    want = [k.value for k in NodeKind if k.value != "call"] + ["call:" + f for f in CALL_NAMES]
    assert dispatch_keys() == want
    # the call names are the parser's functions except the two it rewrites
    assert set(CALL_NAMES) == set(FUNCTIONS) - {"fma", "implies"}
    assert parse_expr("fma(a, b, c) > 0").args[0].value == "rnd"
    assert parse_expr("implies(a > 0, b > 0)").kind == "or"


def test_every_handler_is_reached_with_its_arguments():
    tree = parse_expr(EVERY)
    R = _recorder()
    seen = set()
    for node in tree.walk():
        key, args, kw = R().visit(node, 1, 2, x=3)
        assert key == _key(node)
        assert args == (1, 2) and kw == {"x": 3}
        seen.add(key)
    assert seen == set(dispatch_keys()), "the example claim must contain every kind"
    assert R.missing() == []


def test_call_fallback_and_second_level():
    class Calls(NodeVisitor):
        def visit_call(self, n):
            return "any call"

        def visit_call_rnd(self, n):
            return "rnd"
    assert Calls().visit(parse_expr("rnd(a)", want_bool=False)) == "rnd"
    assert Calls().visit(parse_expr("sqrt(a)", want_bool=False)) == "any call"
    assert [k for k in Calls.missing() if k.startswith("call")] == []
    with pytest.raises(UnhandledNode):
        Calls().visit(parse_expr("a", want_bool=False))


def test_incomplete_visitor_raises_the_uniform_error():
    """Wrong variant: a visitor without a mul handler must refuse a product, saying which visitor,
    which kind and where in the claim, never return something."""
    class Sum(NodeVisitor):
        def visit_var(self, n):
            return 1

        def visit_add(self, n):
            return self.visit(n.args[0]) + self.visit(n.args[1])
    assert Sum().visit(parse_expr("a + b", want_bool=False)) == 2
    with pytest.raises(UnhandledNode) as ei:
        Sum().visit(parse_expr("a + b * c", want_bool=False))
    msg = str(ei.value)
    assert "Sum" in msg and "'mul'" in msg and "position 4" in msg and "b * c" in msg
    assert (ei.value.visitor, ei.value.key, ei.value.pos) == ("Sum", "mul", 4)
    with pytest.raises(UnhandledNode, match="'call:sqrt'"):
        Sum().visit(parse_expr("sqrt(a)", want_bool=False))
    assert "\n" not in msg


def test_misspelt_handler_is_refused_when_the_class_is_made():
    with pytest.raises(TypeError, match="visit_ad names no claim node"):
        type("Typo", (NodeVisitor,), {"visit_ad": lambda self, n: 0})
    with pytest.raises(TypeError, match="visit_call_log names no claim node"):
        type("Typo", (NodeVisitor,), {"visit_call_log": lambda self, n: 0})


@pytest.mark.parametrize("cls", EVALUATORS, ids=lambda c: c.__name__)
def test_every_evaluator_handles_every_kind(cls):
    assert cls.missing() == [], f"{cls.__name__} has no handler for {cls.missing()}"


@pytest.mark.parametrize("cls", EVALUATORS, ids=lambda c: c.__name__)
def test_coverage_check_notices_a_removed_handler(cls):
    """Wrong variant: the same evaluator with one handler deleted is reported incomplete."""
    Broken = type("Broken" + cls.__name__, (cls,), {"visit_call_ulp": None, "visit_neg": None})
    assert Broken.missing() == ["neg", "call:ulp"]
    assert cls.missing() == []      # the parent keeps its table


def test_coverage_check_notices_a_new_call_name(monkeypatch):
    """Wrong variant: a call name added to the language without handlers is missing everywhere."""
    monkeypatch.setattr(claimwalk, "CALL_NAMES", CALL_NAMES + ("log",))
    for cls in EVALUATORS:
        assert cls.missing() == ["call:log"], cls.__name__


def test_removed_handler_surfaces_in_the_evaluators():
    """An evaluator subclass without a handler raises UnhandledNode (not Unsupported or Undecided,
    which the engines would turn into an 'unknown' verdict and hide the gap)."""
    c = build_claim("abs(rnd(a*b)) >= 0", "fp8_e5m2")

    class NoAbs(Encoder):
        visit_call_abs = None
    with pytest.raises(UnhandledNode, match="NoAbs has no handler for claim node 'call:abs'"):
        NoAbs(c).query()
    assert Encoder(c).query()

    class NoUlp(_Point):
        visit_call_ulp = None
    n = parse_expr("ulp(a)", want_bool=False)
    env = {"a": Fraction(1)}
    assert _Point(env, c.fmt, "rne", {}, 0).eval(n) == c.fmt.ulp(Fraction(1))
    with pytest.raises(UnhandledNode, match="NoUlp"):
        NoUlp(env, c.fmt, "rne", {}, 0).eval(n)


def test_patched_handler_changes_dispatch(monkeypatch):
    """Setting a handler on a class after it is made updates its table (tests may monkeypatch); a
    min evaluated as max is caught by a plain value check."""
    c = build_claim("min(a, b) <= a", "fp8_e5m2")
    env = {"a": Fraction(1), "b": Fraction(2)}
    n = c.expr.args[0]
    assert evaluate(n, env, c.fmt, "rne") == 1
    monkeypatch.setattr(_Point, "visit_call_min", _Point.visit_call_max)
    assert evaluate(n, env, c.fmt, "rne") == 2
    monkeypatch.undo()
    assert evaluate(n, env, c.fmt, "rne") == 1


def test_evaluators_keep_their_messages():
    c = build_claim("rnd(a*b) >= a", "fp16")
    enc = Encoder(c)
    a_num = parse_expr("a", want_bool=False)
    with pytest.raises(Unsupported, match="^node cmp$"):
        enc.num(parse_expr("a < b"))
    with pytest.raises(Unsupported, match="^boolean node var$"):
        enc.boolean(a_num)
    with pytest.raises(Unsupported, match="^node name$"):
        enc.num(parse_expr("tiny", want_bool=False))
    with pytest.raises(Unsupported, match="exact sqrt outside rnd"):
        enc.num(parse_expr("sqrt(a)", want_bool=False))
    assert _DirectOp(enc).visit(a_num) is None           # a matcher: no operation, no error
    assert _DirectOp(enc).visit(parse_expr("a * b", want_bool=False)) is not None
    with pytest.raises(_NotHomogeneous, match="^name is not scale-invariant$"):
        _Analysis().deg(parse_expr("tiny", want_bool=False))
    with pytest.raises(_NotHomogeneous, match="^cmp is not scale-invariant$"):
        _Analysis().deg(parse_expr("a < b"))
    with pytest.raises(ValueError, match="unresolved name"):
        _Point({}, c.fmt, "rne", {}, 0).eval(parse_expr("tiny", want_bool=False))


def test_same_node_is_structural_equality():
    P = lambda s: parse_expr(s, want_bool=False)  # noqa: E731
    assert same_node(P("a*b - c"), P("(a*b)   - c"))          # positions differ
    assert same_node(Node("var", value="a", pos=0), Node("var", value="a", pos=7))
    assert same_node(P("0.5 + a"), P("1/2 + a")) is False     # 1/2 is a division node, not the number
    assert same_node(P("0.5"), Node("num", value=Fraction(1, 2)))
    # wrong variants: each differs in one respect and must not be equal
    for x, y in [("a - b", "b - a"), ("a / b", "b / a"), ("a ** 2", "a ** 3"), ("a", "b"), ("1", "2"),
                 ("rnd(a)", "sqrt(a)"), ("min(a, b)", "max(a, b)"), ("min(a, b)", "min(b, a)"),
                 ("a + b", "b + a"), ("a + b", "a - b"), ("-a", "a")]:
        assert not same_node(P(x), P(y)), (x, y)
        assert same_node(P(x), P(x)), x
    for x, y in [("a < b", "b < a"), ("a < b", "a <= b"), ("a < b and b < c", "a < b and b < c and c < a"),
                 ("a < b < c", "a < b and b < c"), ("not a < b", "a < b")]:
        assert not same_node(parse_expr(x), parse_expr(y)), (x, y)
    # a division marked as the zero-denominator branch is another node
    d = P("a / b")
    assert not same_node(d, Node("div", d.args, "y0", d.pos))


def test_handler_must_be_a_method():
    with pytest.raises(TypeError, match="visit_add must be a plain method"):
        type("Static", (NodeVisitor,), {"visit_add": staticmethod(lambda n: 0)})
    with pytest.raises(TypeError, match="visit_var must be a plain method"):
        type("NotCallable", (NodeVisitor,), {"visit_var": 3})


@pytest.mark.parametrize("text", ["rnd(" * 97 + "a" + ")" * 97 + " >= a", " + ".join(["a"] * 98) + " >= a"])
def test_deepest_claims_fit_the_stack(text):
    """A dispatch adds frames per level (visit, handler): the deepest claims the parser accepts
    still go through every evaluator without RecursionError."""
    from qbound.proofs.exact import holds_at
    from qbound.proofs.scaling import scale_reduce
    c = build_claim(text, "fp8_e5m2")
    with pytest.raises(ClaimSyntaxError, match="nested too deeply"):   # one level more: the parser refuses
        build_claim("rnd(" + text.replace(" >= a", "") + ") >= a", "fp8_e5m2")
    assert holds_at(c, {"a": Fraction(3, 2)})[0]
    assert Encoder(c).query()
    assert scale_reduce(c).why


def test_compiled_generator_without_a_handler_raises_unhandled():
    """Wrong variant for the compiled enumerator's code generator: with the rnd handler removed,
    generating a kernel for a claim with rnd raises UnhandledNode (the gap is not hidden)."""
    c = build_claim("rnd(a*b) <= a*b", "fp6_e3m2", "rtz")
    Broken = type("BrokenGen", (_Gen,), {"visit_call_rnd": None})
    g = Broken(c.fmt, c.rounding, c.vars, margins())
    with pytest.raises(UnhandledNode, match="call:rnd"):
        g.boolean(c.expr)
