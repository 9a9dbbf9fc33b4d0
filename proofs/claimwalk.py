"""One dispatcher over claim nodes: :class:`NodeVisitor`, and one structural equality, :func:`same_node`.

Every pass over a claim tree (:class:`~qbound.proofs.claims.Node`) is a map from node kinds to
handlers. Mathematically a claim is a term of the grammar of :mod:`proofs.claims`; an evaluator is
an interpretation of it, one clause per constructor: ``[[x + y]] = [[x]] (+) [[y]]``, ... (the exact
rational value, the SMT term of an encoding, the degree vector of the scale analysis). A
:class:`NodeVisitor` subclass writes each clause as a method and :meth:`NodeVisitor.visit` selects it:

* ``visit_<kind>`` handles the nodes of one :class:`~qbound.proofs.claims.NodeKind` (``visit_add``,
  ``visit_cmp``, ...);
* a ``call`` node dispatches a second level on its function name: ``visit_call_<name>``
  (``visit_call_rnd``, ``visit_call_sqrt``, ...), falling back to ``visit_call`` when the class has
  no handler for that name. The call names are :data:`~qbound.proofs.claims.CALL_NAMES` (``fma`` and
  ``implies`` never appear as nodes: the parser writes them as ``rnd(a*b + c)`` and ``not A or B``).

The table (kind or call name -> function) is built once per class, when the class is created; a
handler name that is no kind or call name is refused then (a typo cannot hide a handler), and a
subclass removes an inherited handler with ``visit_add = None``. A handler receives the node and
whatever extra arguments ``visit`` was given, and returns its value (a handler decides itself whether
and how to recurse, with ``self.visit(child)``); state (an environment, a term cache, a list of
obligations) lives on the visitor. A node without a handler goes to :meth:`NodeVisitor.unhandled`,
which raises :class:`UnhandledNode` naming the visitor, the kind and the position in the claim; a
class overrides it only where "no handler" is itself an answer (a pattern matcher returning None).
:meth:`NodeVisitor.missing` lists the kinds a class has no handler for (the tests require it to be
empty for every evaluator, so a new kind cannot be silently forgotten).

>>> from qbound.proofs.claims import parse_expr
>>> class Size(NodeVisitor):
...     '''Number of nodes: 1 for a leaf, 1 + the sizes of the operands otherwise.'''
...     def leaf(self, n):
...         return 1
...     visit_num = visit_var = visit_name = leaf
...     def visit_add(self, n):
...         return 1 + sum(self.visit(a) for a in n.args)
...     visit_call_abs = visit_add
>>> Size().visit(parse_expr("abs(a + 1)", want_bool=False))
4
>>> Size().visit(parse_expr("a * 2", want_bool=False))
Traceback (most recent call last):
...
qbound.proofs.claimwalk.UnhandledNode: Size has no handler for claim node 'mul' (at position 0 of the claim: a * 2); it handles: add, call:abs, name, num, var
>>> Size.missing()[:3]
['sub', 'mul', 'div']

State lives on the visitor and handlers return values, e.g. a generator of straight-line code that
names every intermediate result:

>>> class Code(NodeVisitor):
...     def __init__(self):
...         self.lines = []
...     def emit(self, expr):
...         self.lines.append(f"t{len(self.lines)} = {expr}")
...         return f"t{len(self.lines) - 1}"
...     def visit_var(self, n):
...         return n.value
...     def visit_mul(self, n):
...         return self.emit(" * ".join(self.visit(a) for a in n.args))
...     def visit_call_rnd(self, n):
...         return self.emit(f"round_to_format({self.visit(n.args[0])})")
>>> g = Code()
>>> g.visit(parse_expr("rnd(a*b)", want_bool=False)), g.lines
('t1', ['t0 = a * b', 't1 = round_to_format(t0)'])
>>> same_node(parse_expr("a - b", want_bool=False), parse_expr("(a) - b", want_bool=False))
True
>>> same_node(parse_expr("a - b", want_bool=False), parse_expr("b - a", want_bool=False))
False
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar

from qbound.numeric.errors import QboundError
from qbound.proofs.claims import CALL_NAMES, Node, NodeKind

__all__ = ["NodeVisitor", "UnhandledNode", "same_node", "dispatch_keys"]

_PREFIX = "visit_"
_CALL = NodeKind.CALL.value


def dispatch_keys() -> list[str]:
    """Every key a complete visitor handles: each node kind but ``call``, then ``call:<name>`` for
    each call name (in the order of :class:`~qbound.proofs.claims.NodeKind` and ``CALL_NAMES``)."""
    return [k.value for k in NodeKind if k is not NodeKind.CALL] + [f"{_CALL}:{f}" for f in CALL_NAMES]


class UnhandledNode(QboundError, NotImplementedError):
    """A visitor met a node kind it has no handler for (a gap in qbound, never bad user input)."""

    def __init__(self, visitor: object, node: Node):
        key = _key(node)
        cls = type(visitor)
        try:
            where = f"at position {node.pos} of the claim: {node}"
        except Exception:   # a tree the printer cannot print either
            where = f"at position {node.pos} of the claim"
        handled = ", ".join(sorted(getattr(cls, "_names", {}))) or "nothing"
        super().__init__(f"{cls.__name__} has no handler for claim node {key!r} ({where}); it handles: {handled}")
        self.visitor, self.key, self.pos = cls.__name__, key, node.pos


def _key(node: Node) -> str:
    return f"{_CALL}:{node.value}" if node.kind == _CALL else str(node.kind)


def _method_key(name: str) -> str:
    """``visit_add`` -> ``add``, ``visit_call`` -> ``call``, ``visit_call_rnd`` -> ``call:rnd``."""
    rest = name[len(_PREFIX):]
    if rest.startswith(_CALL + "_"):
        return f"{_CALL}:{rest[len(_CALL) + 1:]}"
    return rest


_KNOWN = frozenset(dispatch_keys()) | {_CALL}


class _VisitorType(type):
    """Keeps a class's dispatch table in step when a handler is set or deleted on the class after
    its creation (``monkeypatch.setattr(Cls, "visit_add", f)`` in a test), for its subclasses too."""

    def __setattr__(cls, name, value):
        super().__setattr__(name, value)
        if name.startswith(_PREFIX):
            _rebuild(cls)

    def __delattr__(cls, name):
        super().__delattr__(name)
        if name.startswith(_PREFIX):
            _rebuild(cls)


def _rebuild(cls) -> None:
    _build_table(cls)
    for sub in cls.__subclasses__():
        _rebuild(sub)


def _build_table(cls) -> None:
    kinds: dict[str, Callable[..., Any]] = {}
    calls: dict[str, Callable[..., Any]] = {}
    names: dict[str, str] = {}
    for name in dir(cls):
        if not name.startswith(_PREFIX):
            continue
        key = _method_key(name)
        if key not in _KNOWN:
            raise TypeError(f"{cls.__name__}.{name} names no claim node: handlers are visit_<kind> for the "
                            f"kinds {', '.join(k.value for k in NodeKind)} and visit_call_<name> for "
                            f"{', '.join(CALL_NAMES)}")
        fn = getattr(cls, name)
        if fn is None:          # removed in this class (visit_add = None)
            continue
        raw = next(k.__dict__[name] for k in cls.__mro__ if name in k.__dict__)
        if not callable(fn) or isinstance(raw, (staticmethod, classmethod)):
            raise TypeError(f"{cls.__name__}.{name} must be a plain method, called as handler(self, node, ...)")
        names[key] = name
        if key.startswith(_CALL + ":"):
            calls[key[len(_CALL) + 1:]] = fn
        else:
            kinds[key] = fn
    type.__setattr__(cls, "_kinds", kinds)
    type.__setattr__(cls, "_calls", calls)
    type.__setattr__(cls, "_names", names)


class NodeVisitor(metaclass=_VisitorType):
    """Dispatch on a claim node's kind (and a call's function name) to ``visit_*`` methods; see the
    module docstring. Subclass it, write handlers, call :meth:`visit`."""

    #: kind -> handler (``call`` included when the class has ``visit_call``), built per class
    _kinds: ClassVar[dict[str, Callable[..., Any]]] = {}
    #: call name -> handler
    _calls: ClassVar[dict[str, Callable[..., Any]]] = {}
    #: dispatch key -> method name (for messages and :meth:`missing`)
    _names: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _build_table(cls)

    def visit(self, node: Node, *args, **kwargs):
        """The value of the handler for ``node`` (called with ``node`` and the extra arguments)."""
        k = node.kind
        if k == _CALL:
            fn = self._calls.get(node.value)   # type: ignore[call-overload]
            if fn is None:
                fn = self._kinds.get(k)
        else:
            fn = self._kinds.get(k)
        if fn is None:
            return self.unhandled(node, *args, **kwargs)
        return fn(self, node, *args, **kwargs)

    def unhandled(self, node: Node, *args, **kwargs):
        """Called for a node without a handler; raises :class:`UnhandledNode` (override only where
        "no handler" is an answer, as in a pattern matcher)."""
        raise UnhandledNode(self, node)

    @classmethod
    def handles(cls, key: str) -> bool:
        """Does the class have a handler for the dispatch key (``"add"``, ``"call:rnd"``)?"""
        if key.startswith(_CALL + ":"):
            return key[len(_CALL) + 1:] in cls._calls or _CALL in cls._kinds
        return key in cls._kinds

    @classmethod
    def missing(cls) -> list[str]:
        """The keys of :func:`dispatch_keys` the class has no handler for (empty: complete)."""
        return [k for k in dispatch_keys() if not cls.handles(k)]


def same_node(x: Node, y: Node) -> bool:
    """Structural equality of claim trees, positions ignored: ``x`` and ``y`` have the same kind, the
    same value (the rational of a constant, the name of a variable, the function of a call, the
    operators of a comparison chain, the exponent of a power) and pairwise structurally equal
    operands *in order*. It is syntactic, not algebraic: ``a + b`` and ``b + a`` differ, and so do
    ``0.5`` and ``1/2`` (a number and a division); ``1`` and ``1.0`` are equal (the same rational)."""
    if x is y:
        return True
    return (x.kind == y.kind and x.value == y.value and len(x.args) == len(y.args)
            and all(same_node(a, b) for a, b in zip(x.args, y.args)))
