"""One error root for qbound and one helper for "did you mean" (shared by every layer).

Every error qbound raises on purpose derives from :class:`QboundError`; bad input from a user is
an :class:`InputError` (also a ``ValueError``), which the command line maps to exit status 2 with
its one-line message. :func:`check_choice` is the one place that validates a name against the
accepted ones and suggests close matches:

>>> check_choice("rne", ("rne", "rtz"), what="rounding mode")
'rne'
>>> try:
...     check_choice("rnee", ("rne", "rtz"), what="rounding mode")
... except InputError as exc:
...     print(exc)
unknown rounding mode 'rnee'. Did you mean rne? Accepted: rne, rtz.
"""
from __future__ import annotations

import difflib
from typing import Iterable, TypeVar

__all__ = ["QboundError", "InputError", "close_matches", "did_you_mean", "check_choice"]

T = TypeVar("T")


class QboundError(Exception):
    """The root of every error qbound raises on purpose."""


class InputError(QboundError, ValueError):
    """Bad input from a user: the message says what was wrong and what is accepted."""


def close_matches(value, accepted: Iterable, n: int = 2, cutoff: float = 0.4) -> list[str]:
    """The accepted names closest to ``value`` (difflib's ratio at least ``cutoff``), best first."""
    return difflib.get_close_matches(str(value), [str(a) for a in accepted], n=n, cutoff=cutoff)


def did_you_mean(value, accepted: Iterable, n: int = 2, cutoff: float = 0.4) -> str:
    """``" Did you mean a, b?"`` for the close matches of ``value``, or ``""`` when there are none."""
    close = close_matches(value, accepted, n=n, cutoff=cutoff)
    return f" Did you mean {', '.join(close)}?" if close else ""


def check_choice(value: T, accepted: Iterable[T], *, what: str, error: type = InputError,
                 n: int = 2, cutoff: float = 0.4) -> T:
    """Return ``value`` if it is one of ``accepted``, else raise ``error`` with close matches.

    The message reads ``unknown WHAT 'VALUE'. Did you mean ...? Accepted: ...``.
    """
    accepted = list(accepted)
    if value in accepted:
        return value
    raise error(f"unknown {what} {value!r}.{did_you_mean(value, accepted, n=n, cutoff=cutoff)} "
                f"Accepted: {', '.join(map(str, accepted))}.")


def finite_float(value, *, what: str, hint: str = "") -> float:
    """``float(value)`` for a finite number; else an :class:`InputError` naming ``what`` (``hint``
    is appended to the message for a non-finite value).

    >>> finite_float("1e-3", what="lr")
    0.001
    >>> finite_float("inf", what="lr")
    Traceback (most recent call last):
    ...
    qbound.numeric.errors.InputError: lr must be finite, got 'inf'
    >>> finite_float("x", what="lr")
    Traceback (most recent call last):
    ...
    qbound.numeric.errors.InputError: lr must be a number, got 'x'
    """
    import math
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(f):
        raise InputError(f"{what} must be finite, got {value!r}{' ' + hint if hint else ''}")
    return f
