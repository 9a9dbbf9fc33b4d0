"""Test problems: objective F, exact gradient, seeded stochastic gradient, and known constants.

Parameters are a **list of float64 arrays** (one per tensor, each with its own shape), so matrix
parameters stay matrices (Muon orthogonalizes them) and vectors stay vectors (Muon hands them to
Adam). ``flatten(params)`` / ``unflatten(vec, shapes)`` convert to and from one vector of length d.

Every problem has

* ``x0()`` - the initial point (deterministic, set by the problem's own ``seed`` keyword),
* ``loss(params)`` - F(x), ``grad(params)`` - the exact gradient of F (full batch),
* ``stoch_grad(params, rng)`` - an unbiased stochastic gradient g with E[g] = grad F, drawing its
  randomness only from ``rng`` (a ``numpy.random.Generator`` the harness derives from the run seed),
* ``constants()`` - dict with keys L, R, sigma, Delta, d, r, F_star (None when unknown) and
  ``notes`` saying how each was obtained,
* ``spec()`` - name and keyword arguments, enough to rebuild it with ``make_problem``.

Names: ``rosenbrock``, ``quadratic``, ``digits-logreg``, ``digits-mlp``, ``matrix-ls``.
"""
from __future__ import annotations
import math

import numpy as np

from qbound.numeric.errors import InputError, did_you_mean


def flatten(params) -> np.ndarray:
    return np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1) for p in params]) if params else np.zeros(0)


def unflatten(vec, shapes) -> list:
    out, i = [], 0
    for s in shapes:
        n = int(np.prod(s)) if len(s) else 1
        out.append(np.asarray(vec[i:i + n], dtype=np.float64).reshape(s))
        i += n
    return out


def _noise(rng, shape, sigma, kind):
    """Zero-mean noise with per-coordinate standard deviation sigma."""
    if sigma == 0:
        return 0.0
    if kind == "gaussian":
        return sigma * rng.standard_normal(shape)
    # uniform on [-sqrt(3) sigma, sqrt(3) sigma]: std sigma, bounded a.s. by sqrt(3) sigma
    return sigma * math.sqrt(3.0) * rng.uniform(-1.0, 1.0, shape)


NOISE_KINDS = ("uniform", "gaussian")


class Problem:
    """Base class; subclasses set ``name``, ``shapes`` and implement the methods."""

    name = "?"
    shapes: list

    def __init__(self, **kw):
        self.kw = kw

    @property
    def d(self) -> int:
        return int(sum(int(np.prod(s)) if len(s) else 1 for s in self.shapes))

    def spec(self) -> dict:
        return {"name": self.name, **self.kw}

    def x0(self) -> list:
        raise NotImplementedError

    def loss(self, params) -> float:
        raise NotImplementedError

    def grad(self, params) -> list:
        raise NotImplementedError

    def stoch_grad(self, params, rng) -> list:
        return self.grad(params)

    def grad_norm2(self, params) -> float:
        return float(sum(float(np.sum(g * g)) for g in self.grad(params)))

    def evaluate(self, params) -> tuple[float, float]:
        """(F(x), ||grad F(x)||_2^2) at once (subclasses may share work between the two)."""
        return self.loss(params), self.grad_norm2(params)

    def constants(self) -> dict:
        return {"L": None, "R": None, "sigma": None, "Delta": None, "d": self.d, "r": None,
                "F_star": None, "notes": {}}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.kw.items())
        return f"{type(self).__name__}({args})"


# ---------------------------------------------------------------------- Rosenbrock
class Rosenbrock(Problem):
    """n-dimensional Rosenbrock: F(x) = sum_{i<n-1} 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2.

    Minimum F_* = 0 at x = (1, ..., 1). Gradient:
    dF/dx_i = -400 x_i (x_{i+1} - x_i^2) - 2 (1 - x_i)   (i < n-1)   + 200 (x_i - x_{i-1}^2)   (i > 0).
    Start x0 = (-1.2, 1, -1.2, 1, ...), the classical one. Noise: g = grad F + xi with xi i.i.d.
    zero-mean of std ``sigma`` ("uniform": bounded by sqrt(3) sigma a.s.; "gaussian").
    """

    name = "rosenbrock"

    def __init__(self, d: int = 2, sigma: float = 0.0, noise: str = "uniform"):
        d = int(d)
        if d < 2:
            raise InputError(f"rosenbrock needs d >= 2, got {d}")
        if noise not in NOISE_KINDS:
            raise InputError(f"unknown noise kind {noise!r}. Accepted: {', '.join(NOISE_KINDS)}.")
        super().__init__(d=d, sigma=float(sigma), noise=noise)
        self.shapes = [(d,)]
        self.sigma, self.noise = float(sigma), noise

    def x0(self):
        x = np.ones(self.kw["d"])
        x[0::2] = -1.2
        return [x]

    def loss(self, params):
        x = params[0]
        return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))

    def grad(self, params):
        x = params[0]
        g = np.zeros_like(x)
        r = x[1:] - x[:-1] ** 2
        g[:-1] = -400.0 * x[:-1] * r - 2.0 * (1.0 - x[:-1])
        g[1:] += 200.0 * r
        return [g]

    def stoch_grad(self, params, rng):
        g = self.grad(params)
        if self.sigma:
            g = [g[0] + _noise(rng, g[0].shape, self.sigma, self.noise)]
        return g

    def constants(self):
        c = super().constants()
        x0 = self.x0()[0]
        B = max(float(np.max(np.abs(x0))), 1.0)
        # Gershgorin bound of the Hessian over the box [-B, B]^d, which contains x0 and x*:
        # diagonal <= 1200 B^2 + 400 B + 202, off-diagonal row sum <= 2 * 400 B.
        # On the same box: |dF/dx_i| <= 400 B (B + B^2) + 2 (1 + B) + 200 (B + B^2); uniform noise adds
        # at most sqrt(3) sigma (Gaussian noise is unbounded).
        Rbox = 400 * B * (B + B * B) + 2 * (1 + B) + 200 * (B + B * B)
        R = Rbox + math.sqrt(3) * self.sigma if (self.noise == "uniform" or not self.sigma) else None
        c.update(L=1200 * B * B + 400 * B + 202 + 800 * B, F_star=0.0, Delta=self.loss([x0]),
                 sigma=self.sigma, r=None, R=R, box=B)
        c["notes"] = {
            "L": f"estimated: Gershgorin bound of the Hessian on the box [-{B}, {B}]^d (Rosenbrock is not globally L-smooth)",
            "F_star": "exact: F(1,...,1) = 0",
            "box": f"assumed: the iterates stay in [-{B}, {B}]^d (R and L hold there only)",
            "Delta": "exact: F(x0) - 0, evaluated in float64",
            "sigma": f"exact: per-coordinate std of the additive {self.noise} noise",
            "R": (f"estimated: l_inf bound of the stochastic gradient valid while the iterates stay in the box "
                  f"[-{B}, {B}]^d (the gradient is unbounded on R^d)" if R is not None
                  else "unknown: Gaussian noise is not bounded a.s."),
        }
        return c


# ---------------------------------------------------------------------- quadratic
class Quadratic(Problem):
    """Ill-conditioned quadratic F(x) = 1/2 x^T A x, A = Q diag(lambda) Q^T.

    lambda_i log-spaced from 1 to ``kappa`` (so L = kappa, mu = 1, F_* = 0 at x = 0); Q a random
    orthogonal matrix drawn from ``seed`` (``rotate=False``: Q = I, an axis-aligned problem where a
    diagonal preconditioner like Adam's is at its best). x0 = (1, ..., 1). Noise as for Rosenbrock.
    """

    name = "quadratic"

    def __init__(self, d: int = 20, kappa: float = 1e3, rotate: bool = True, seed: int = 0,
                 sigma: float = 0.0, noise: str = "uniform"):
        d = int(d)
        if d < 1 or kappa < 1:
            raise InputError(f"quadratic needs d >= 1 and kappa >= 1, got d={d}, kappa={kappa}")
        if noise not in NOISE_KINDS:
            raise InputError(f"unknown noise kind {noise!r}. Accepted: {', '.join(NOISE_KINDS)}.")
        super().__init__(d=d, kappa=float(kappa), rotate=bool(rotate), seed=int(seed), sigma=float(sigma), noise=noise)
        self.shapes = [(d,)]
        self.lam = np.logspace(0.0, math.log10(kappa), d) if d > 1 else np.array([float(kappa)])
        if rotate:
            q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
            q = q * np.sign(np.diag(r))
        else:
            q = np.eye(d)
        self.A = (q * self.lam) @ q.T
        self.A = 0.5 * (self.A + self.A.T)
        self.sigma, self.noise = float(sigma), noise

    def x0(self):
        return [np.ones(self.kw["d"])]

    def loss(self, params):
        x = params[0]
        return float(0.5 * x @ (self.A @ x))

    def grad(self, params):
        return [self.A @ params[0]]

    def stoch_grad(self, params, rng):
        g = self.grad(params)
        if self.sigma:
            g = [g[0] + _noise(rng, g[0].shape, self.sigma, self.noise)]
        return g

    def constants(self):
        c = super().constants()
        B = float(np.max(np.abs(self.x0()[0])))
        Rbox = float(np.max(np.sum(np.abs(self.A), axis=1))) * B
        R = Rbox + math.sqrt(3) * self.sigma if (self.noise == "uniform" or not self.sigma) else None
        c.update(L=float(self.kw["kappa"]), F_star=0.0, Delta=self.loss(self.x0()), sigma=self.sigma, R=R, box=B)
        c["notes"] = {"L": "exact: largest eigenvalue kappa", "F_star": "exact: F(0) = 0",
                      "box": f"assumed: the iterates stay in [-{B}, {B}]^d (R holds there only)",
                      "Delta": "exact: F(x0), evaluated in float64",
                      "sigma": f"exact: per-coordinate std of the additive {self.noise} noise",
                      "R": (f"estimated: max row l1 norm of A times {B} (+ sqrt(3) sigma), an l_inf gradient bound "
                            f"valid while the iterates stay in the box [-{B}, {B}]^d" if R is not None
                            else "unknown: Gaussian noise is not bounded a.s.")}
        return c


# ---------------------------------------------------------------------- digits data
_DIGITS = None


def load_digits_data():
    """scikit-learn's bundled 8x8 digits (1797 x 64, pixel values scaled to [0, 1]) and labels."""
    global _DIGITS
    if _DIGITS is None:
        from sklearn.datasets import load_digits
        ds = load_digits()
        X = np.asarray(ds.data, dtype=np.float64) / 16.0
        y = np.asarray(ds.target, dtype=np.int64)
        _DIGITS = (X, y)
    return _DIGITS


def _softmax_xent(logits, y):
    """Mean cross-entropy and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    ez = np.exp(z)
    s = ez.sum(axis=1, keepdims=True)
    p = ez / s
    n = logits.shape[0]
    loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), y]))
    dz = p.copy()
    dz[np.arange(n), y] -= 1.0
    return loss, dz / n


class _Digits(Problem):
    def __init__(self, batch, lam, **kw):
        batch = int(batch)
        X, y = load_digits_data()
        if not (1 <= batch <= len(y)):
            raise InputError(f"batch must be in 1..{len(y)}, got {batch}")
        super().__init__(batch=batch, lam=float(lam), **kw)
        self.X, self.y = X, y
        self.batch, self.lam = batch, float(lam)

    def loss(self, params):
        return self._loss_grad(params, self.X, self.y, need_grad=False)[0]

    def grad(self, params):
        return self._loss_grad(params, self.X, self.y)[1]

    def evaluate(self, params):
        loss, g = self._loss_grad(params, self.X, self.y)
        return loss, float(sum(float(np.sum(gi * gi)) for gi in g))

    def stoch_grad(self, params, rng):
        """Gradient on a mini-batch drawn uniformly with replacement: unbiased for the full gradient."""
        idx = rng.integers(0, len(self.y), size=self.batch)
        return self._loss_grad(params, self.X[idx], self.y[idx])[1]


class DigitsLogReg(_Digits):
    """Multinomial logistic regression on digits: params [W (64, 10), b (10,)].

    F(W, b) = mean_i CE(softmax(x_i W + b), y_i) + lam/2 ||W||_F^2; x0 = 0.
    """

    name = "digits-logreg"

    def __init__(self, batch: int = 32, lam: float = 1e-3):
        super().__init__(batch, lam)
        self.shapes = [(64, 10), (10,)]

    def x0(self):
        return [np.zeros((64, 10)), np.zeros(10)]

    def _loss_grad(self, params, X, y, need_grad=True):
        W, b = params
        loss, dz = _softmax_xent(X @ W + b, y)
        loss += 0.5 * self.lam * float(np.sum(W * W))
        if not need_grad:
            return loss, None
        return loss, [X.T @ dz + self.lam * W, dz.sum(axis=0)]

    def constants(self):
        c = super().constants()
        Xt = np.hstack([self.X, np.ones((len(self.y), 1))])
        lmax = float(np.linalg.eigvalsh(Xt.T @ Xt / len(self.y))[-1])
        c.update(L=0.5 * lmax + self.lam, Delta=None, F_star=None, r=None)
        c["F0"] = self.loss(self.x0())
        c["notes"] = {
            "L": "exact upper bound: Hessian <= 1/2 lambda_max(X~^T X~ / n) + lam (softmax Jacobian <= I/2; X~ = [X, 1])",
            "F_star": "unknown (not computed)", "Delta": "unknown: F_* not computed; F0 = F(x0) given",
            "R": "unknown: the stochastic gradient grows with ||W|| through the L2 term",
            "sigma": "unknown (mini-batch noise, depends on the point)",
        }
        return c


class DigitsMLP(_Digits):
    """One-hidden-layer tanh network on digits: params [W1 (64, h), b1 (h,), W2 (h, 10), b2 (10,)].

    F = mean_i CE(softmax(tanh(x_i W1 + b1) W2 + b2), y_i) + lam/2 (||W1||^2 + ||W2||^2).
    Init: W1, W2 Gaussian with std 1/sqrt(fan_in) drawn from ``seed``, biases 0.
    """

    name = "digits-mlp"

    def __init__(self, hidden: int = 32, batch: int = 32, lam: float = 1e-4, seed: int = 0):
        hidden = int(hidden)
        if hidden < 1:
            raise InputError(f"hidden must be >= 1, got {hidden}")
        super().__init__(batch, lam, hidden=hidden, seed=int(seed))
        self.shapes = [(64, hidden), (hidden,), (hidden, 10), (10,)]

    def x0(self):
        h = self.kw["hidden"]
        rng = np.random.default_rng(self.kw["seed"])
        return [rng.standard_normal((64, h)) / 8.0, np.zeros(h),
                rng.standard_normal((h, 10)) / math.sqrt(h), np.zeros(10)]

    def _loss_grad(self, params, X, y, need_grad=True):
        W1, b1, W2, b2 = params
        H = np.tanh(X @ W1 + b1)
        loss, dz = _softmax_xent(H @ W2 + b2, y)
        loss += 0.5 * self.lam * float(np.sum(W1 * W1) + np.sum(W2 * W2))
        if not need_grad:
            return loss, None
        dH = (dz @ W2.T) * (1.0 - H * H)
        return loss, [X.T @ dH + self.lam * W1, dH.sum(axis=0), H.T @ dz + self.lam * W2, dz.sum(axis=0)]

    def constants(self):
        c = super().constants()
        c["F0"] = self.loss(self.x0())
        c["notes"] = {k: "unknown (non-convex network)" for k in ("L", "R", "sigma", "Delta", "F_star")}
        return c


# ---------------------------------------------------------------------- matrix least squares
class MatrixLS(Problem):
    """Matrix least squares F(X) = 1/(2N) ||A X - B||_F^2 with X of shape (m, n); params [X].

    A (N x m) is Gaussian with columns scaled log-uniformly from 1 to ``cond`` (an ill-conditioned
    design), B = A X_true + ``label_noise`` * E, all drawn from ``seed``; x0 = 0. Stochastic gradient:
    the gradient on ``batch`` rows drawn uniformly with replacement (unbiased).
    grad F(X) = A^T (A X - B) / N, Hessian = A^T A / N (acting on each column of X).
    """

    name = "matrix-ls"

    def __init__(self, m: int = 32, n: int = 16, N: int = 256, batch: int = 32, cond: float = 10.0,
                 label_noise: float = 0.1, seed: int = 0):
        m, n, N, batch = int(m), int(n), int(N), int(batch)
        if min(m, n, N) < 1 or not (1 <= batch <= N):
            raise InputError(f"matrix-ls needs m, n, N >= 1 and 1 <= batch <= N; got m={m} n={n} N={N} batch={batch}")
        super().__init__(m=m, n=n, N=N, batch=batch, cond=float(cond), label_noise=float(label_noise), seed=int(seed))
        rng = np.random.default_rng(seed)
        self.A = rng.standard_normal((N, m)) * np.logspace(0, math.log10(cond), m) / math.sqrt(m)
        self.Xtrue = rng.standard_normal((m, n))
        self.B = self.A @ self.Xtrue + label_noise * rng.standard_normal((N, n))
        self.shapes = [(m, n)]
        self.batch = batch

    def x0(self):
        return [np.zeros(self.shapes[0])]

    def loss(self, params):
        R = self.A @ params[0] - self.B
        return float(0.5 * np.sum(R * R) / self.A.shape[0])

    def grad(self, params):
        return [self.A.T @ (self.A @ params[0] - self.B) / self.A.shape[0]]

    def stoch_grad(self, params, rng):
        idx = rng.integers(0, self.A.shape[0], size=self.batch)
        Ab = self.A[idx]
        return [Ab.T @ (Ab @ params[0] - self.B[idx]) / self.batch]

    def constants(self):
        c = super().constants()
        N = self.A.shape[0]
        L = float(np.linalg.eigvalsh(self.A.T @ self.A / N)[-1])
        Xs = np.linalg.lstsq(self.A, self.B, rcond=None)[0]
        fstar = self.loss([Xs])
        # per-sample gradient at X_*: a_i r_i^T with r_i = a_i X_* - b_i; its mean is grad F(X_*) = 0, so
        # the per-sample variance E||a_i r_i^T - grad F||_F^2 = mean_i ||a_i||^2 ||r_i||^2 exactly.
        Rs = self.A @ Xs - self.B
        var1 = float(np.mean(np.sum(self.A ** 2, axis=1) * np.sum(Rs ** 2, axis=1)))
        c.update(L=L, F_star=fstar, Delta=self.loss(self.x0()) - fstar, r=min(self.shapes[0]),
                 sigma=math.sqrt(var1), batch=self.batch)
        c["notes"] = {
            "L": "exact (to float64): lambda_max(A^T A / N), Frobenius smoothness; spectral-to-nuclear "
                 "smoothness constant is at most r times this",
            "F_star": "exact to float64: least-squares solution by numpy.linalg.lstsq",
            "Delta": "F(x0) - F_star in float64",
            "R": "unknown: mini-batch gradients grow with ||X||",
            "sigma": "exact at the minimizer X_*: Frobenius std of ONE sample's gradient a_i r_i^T "
                     "(a batch of B samples drawn with replacement has std sigma / sqrt(B)); it grows away from X_*",
            "r": "exact: min(m, n)",
        }
        return c


PROBLEMS = {
    "rosenbrock": Rosenbrock,
    "quadratic": Quadratic,
    "digits-logreg": DigitsLogReg,
    "digits-mlp": DigitsMLP,
    "matrix-ls": MatrixLS,
}


def make_problem(name: str, **kw) -> Problem:
    """Build a problem by name (see module docstring); unknown names or keywords raise InputError."""
    if isinstance(name, Problem):
        return name
    key = str(name).strip().lower().replace("_", "-")
    if key not in PROBLEMS:
        hint = did_you_mean(key, PROBLEMS, n=2, cutoff=0.4)
        raise InputError(f"unknown problem {name!r}.{hint} Accepted: {', '.join(PROBLEMS)}.")
    cls = PROBLEMS[key]
    import inspect
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    bad = [k for k in kw if k not in params]
    if bad:
        raise InputError(f"problem {key} does not take {', '.join(map(repr, bad))}. Accepted keywords: {', '.join(params)}.")
    try:
        return cls(**kw)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"bad arguments for problem {key}: {exc}") from None
