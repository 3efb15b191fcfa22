"""Automatic order selection: pmdarima's ``auto_arima`` with its candidate fits batched.

    from tinyrnn.arima import auto_arima, auto_arima_many
    res = auto_arima(y)                                  # an ARIMAResults, as ARIMA.fit
    res = auto_arima(np.log(air), seasonal=True, m=12)
    many = auto_arima_many(Y)                            # one selection per series

The selection follows pmdarima 2.1.1 (itself after Hyndman and Khandakar's ``forecast``
package) step by step, so that its users get the same models:

1. D by the OCSB test (``unit_root.nsdiffs``, seasonal only), then d by repeated KPSS tests
   on the seasonally differenced series (``unit_root.ndiffs``).
2. max_p, max_q are capped at n / 3 and, with seasonal terms allowed, at m - 1.
3. The stepwise search. First five models: the start (p, q)(P, Q) = (2, 2)(1, 1), the
   white noise (0, 0)(0, 0), (1, 0)(1, 0), (0, 1)(0, 1), and the white noise without the
   intercept. Then rounds: from the current best model, the neighbours in pmdarima's order
   (P - 1, Q - 1, P + 1, Q + 1, the four diagonal seasonal moves, the same eight moves of
   (p, q), and the intercept switched); the first neighbour that lowers the criterion
   becomes the current model and a new round starts; the search ends after a round with
   nothing new to fit (or 100 fits).
4. Each candidate is fitted as pmdarima fits it: from statsmodels' start values, at most
   50 L-BFGS-B iterations (here with the exact score). A model whose AR or MA inverse
   roots come within 0.01 of the unit circle, or that cannot be fitted, scores +inf
   (pmdarima's root test). Fitting candidates to the exact maximum instead sends the
   greedy search elsewhere (a candidate converged onto the unit circle scores +inf where
   pmdarima's stopped short of it): on the benchmark's 40 series the AIC came within 1 of
   pmdarima's on 32 that way, on 36 this way.
5. The selected model is refitted to the exact maximum (``ARIMA.fit``: every start, to
   convergence); its AIC is then at most the candidate's.

The intercept: the model has one when d + D <= 1, in statsmodels' terms trend 'c' when
d + D = 0 and 't' (a drift) when d + D = 1. As pmdarima does, the search *starts* with it
on when d + D is 0 or 1, counting D as -1 for a non-seasonal search (so a non-seasonal
search with d = 0 starts without it, one with d = 1 with it) and lets the last move of each
round switch it. With d + D = 2 statsmodels allows no trend term (pmdarima fits SARIMAX's
state intercept, a quadratic trend there); here those searches have no intercept.

Information criteria, with k parameters (sigma2 included), n observations and
n_eff = n - d - D m: aic = -2 log L + 2k; bic = -2 log L + k log(n_eff);
hqic = -2 log L + 2k log(log(n_eff)); aicc = aic + 2k (n / (n - k - 1) - 1) (pmdarima's
AICc, with n the whole series).

Batching. The five first models of a search are known in advance and requested together;
after that each step of pmdarima's path is the next neighbour in its order, fitted only
when reached (a neighbour after the first improvement is never fitted, as in pmdarima: the
candidates of one search all differ in specification, so fitting them ahead would only add
work). ``auto_arima_many`` advances the searches of all series in lock-step: each step
gathers every series' pending candidates and groups them by specification. A group is
fitted by ``fit_candidates``: each candidate by its own L-BFGS-B run (step 4), the runs
stepped together with one batched likelihood-and-score evaluation per round
(``lbfgs.minimize_many``). Each run keeps its own curvature history and stopping test, so
a candidate gets exactly the fit it gets alone, and ``auto_arima_many`` selects what
``auto_arima`` selects series by series (a joint L-BFGS run over the whole group instead,
as ``fit_many`` does, would share one curvature history across ill-conditioned MA
problems and converge far more slowly). The answer is the best model fitted, the best of
pmdarima's path.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import chandrasekhar as ch
from . import statespace as ss
from ..threads import blas_threads
from .batch import as_series_list, chunk_size
from .lbfgs import minimize_many, single
from .model import ARIMA, MLE_OPTIONS, FitResult, difference
from .results import ARIMAResults, information_criteria
from .spec import TRENDS, check_endog
from .transforms import is_invertible, is_stationary
from .unit_root import is_constant, ndiffs, nsdiffs

CRITERIA = ("aic", "aicc", "bic", "hqic")
# pmdarima's stepwise moves of (p, q), and of (P, Q), in its order
NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))
CANDIDATE_MAXITER = 50  # a candidate's fit, as pmdarima's: statsmodels' start, <= 50 L-BFGS steps
MAX_FITS = 100        # pmdarima's limit on the models one stepwise search fits
ROOT_MARGIN = 1e-2    # inverse roots above 1 - ROOT_MARGIN score +inf (pmdarima's test)


@dataclass(frozen=True)
class Candidate:
    """One model of a search: orders and whether it has the intercept (or drift)."""

    order: tuple
    seasonal_order: tuple
    trend: str

    def describe(self):
        p, d, q = self.order
        P, D, Q, m = self.seasonal_order
        text = f"ARIMA({p},{d},{q})"
        if m:
            text += f"({P},{D},{Q})[{m}]"
        return text + ("" if self.trend == "n" else f" trend={self.trend!r}")


@dataclass
class Fitted:
    """A candidate's fit: its criterion (inf when it failed or failed the root test)."""

    candidate: Candidate
    ic: float
    model: ARIMA | None = None
    params: np.ndarray | None = None
    llf: float = np.nan
    converged: bool = False


@dataclass
class AutoSummary:
    """How a selection went: the differencing orders chosen, every model fitted (in the
    order fitted, with its criterion) and which of them the stepwise path visited."""

    d: int
    D: int
    information_criterion: str
    fitted: list = field(default_factory=list)   # Fitted
    visited: list = field(default_factory=list)  # Candidates on pmdarima's path

    @property
    def n_fits(self):
        return len(self.fitted)


# ------------------------------------------------------------------------------ checks
def _check_bound(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    return int(v)


@dataclass(frozen=True)
class Options:
    seasonal: bool
    m: int
    d: int | None
    D: int | None
    max_p: int
    max_q: int
    max_P: int
    max_Q: int
    max_d: int
    max_D: int
    start_p: int
    start_q: int
    start_P: int
    start_Q: int
    max_order: int
    information_criterion: str
    stepwise: bool
    trend: str | None
    alpha: float


def _options(seasonal, m, d, D, max_p, max_q, max_P, max_Q, max_d, max_D, start_p, start_q,
             start_P, start_Q, max_order, information_criterion, stepwise, trend, alpha):
    m = _check_bound("m", m)
    if seasonal and m < 1:
        raise ValueError(f"m must be >= 1 (the seasonal period) when seasonal=True, got {m}")
    if not seasonal:
        m = 1
    ints = dict(max_p=max_p, max_q=max_q, max_P=max_P, max_Q=max_Q, max_d=max_d,
                max_D=max_D, start_p=start_p, start_q=start_q, start_P=start_P,
                start_Q=start_Q, max_order=max_order)
    ints = {k: _check_bound(k, v) for k, v in ints.items()}
    d = None if d is None else _check_bound("d", d)
    D = None if D is None else _check_bound("D", D)
    if information_criterion not in CRITERIA:
        raise ValueError(f"information_criterion must be one of {CRITERIA}, got "
                         f"{information_criterion!r}")
    if trend is not None and trend not in TRENDS:
        raise ValueError(f"trend must be None, 'n', 'c', 't' or 'ct', got {trend!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return Options(bool(seasonal), m, d, D, information_criterion=information_criterion,
                   stepwise=bool(stepwise), trend=trend, alpha=float(alpha), **ints)


# ------------------------------------------------------------------------------ one search
def roots_within(params, dims, radius):
    """Whether every inverse root of the reduced AR and of the reduced MA polynomial has
    modulus below ``radius`` (pmdarima's root test, without finding the roots).

    The inverse roots of ``1 - phi_1 z - ... - phi_p z^p`` lie within ``radius`` exactly
    when those of ``1 - sum_j phi_j radius^-j z^j`` lie within 1 (substitute z = w /
    radius), that is when that polynomial is stationary: all its partial
    autocorrelations, from the step-down (Durbin-Levinson) recursion, below 1 in modulus
    (``transforms.is_stationary``). The same for ``1 + theta(z)``."""
    phi, theta, _, _ = ss.reduced_arma(params, dims)
    scale = radius ** -np.arange(1.0, max(phi.size, theta.size) + 1)
    return is_stationary(phi * scale[:phi.size]) and \
        is_invertible(theta * scale[:theta.size])


class Search:
    """One series' selection. ``steps()`` is a generator: it yields the candidates it needs
    fitted next (a list), and expects them in ``self.fits`` when resumed."""

    def __init__(self, y, opts: Options):
        self.y = y = check_endog(y)
        self.opts = o = opts
        n = y.size
        if n < 3:
            raise ValueError(f"y needs at least 3 observations to select a model, got {n}")
        if is_constant(y):
            raise ValueError("y is constant: there is no model to select (pmdarima returns "
                             "an ARIMA(0, 0, 0) without intercept)")
        seasonal = o.seasonal and o.m > 1
        m = o.m if seasonal else 0
        # the orders as pmdarima bounds them
        max_p, max_q = min(o.max_p, n // 3), min(o.max_q, n // 3)
        max_P, max_Q = (o.max_P, o.max_Q) if seasonal else (0, 0)
        if seasonal and o.D is None:
            D = nsdiffs(y, m, max_D=o.max_D)
        else:
            D = o.D if seasonal and o.D is not None else 0
        dx = difference(y, 0, D, m)
        if dx.size < 3:
            raise ValueError(f"D={D} seasonal differences of period m={m} leave {dx.size} "
                             "observations: too few; pass a smaller D or a longer series")
        d = ndiffs(dx, alpha=o.alpha, max_d=o.max_d) if o.d is None else o.d
        if is_constant(np.diff(dx, d) if d else dx):
            raise ValueError(f"y is a polynomial of degree < {d} after D={D} seasonal "
                             "differences: no ARIMA to select")
        if seasonal:
            if max_P > 0:
                max_p = min(max_p, m - 1)
            if max_Q > 0:
                max_q = min(max_q, m - 1)
        self.d, self.D, self.m = d, D, m
        self.max = (max_p, max_q, max_P, max_Q)
        self.allow_intercept = o.trend is None and d + D <= 1
        # pmdarima's start: with_intercept = (d + D) in (0, 1), D = -1 when not seasonal
        self.intercept0 = self.allow_intercept and (d + (D if o.seasonal else -1)) in (0, 1)
        start = (min(o.start_p, max_p), min(o.start_q, max_q),
                 min(o.start_P, max_P), min(o.start_Q, max_Q))
        if n < 10:
            start = (min(start[0], 1), min(start[1], 1), 0, 0)
        self.start = start
        self.fits: dict[Candidate, Fitted] = {}   # everything fitted, in order
        self.visited: list[Candidate] = []        # pmdarima's results_dict, in order
        self.best: Candidate | None = None        # pmdarima's bestfit

    # -------------------------------------------------------------- candidates and scores
    def candidate(self, p, q, P, Q, intercept):
        if self.opts.trend is not None:
            trend = self.opts.trend
        else:
            trend = ("c" if self.d + self.D == 0 else "t") if intercept else "n"
        seasonal = (P, self.D, Q, self.m) if self.m else (0, 0, 0, 0)
        return Candidate((p, self.d, q), seasonal, trend)

    def model(self, c: Candidate) -> ARIMA | None:
        try:
            return ARIMA(self.y, order=c.order, seasonal_order=c.seasonal_order, trend=c.trend)
        except ValueError:  # too short for it, or nothing left to fit: pmdarima scores inf
            return None

    def score(self, c: Candidate, model, params, llf, converged) -> Fitted:
        """The candidate's criterion, +inf past the root test."""
        k, n = model.k_params, model.nobs
        aic, bic, hqic = information_criteria(llf, k, model.nobs_effective)
        aicc = aic + 2 * k * (n / (n - k - 1) - 1) if n - k - 1 > 0 else np.inf  # pmdarima's
        ic = {"aic": aic, "bic": bic, "hqic": hqic,
              "aicc": aicc}[self.opts.information_criterion]
        sp = model.spec
        if not np.isfinite(llf) or (sp.k_arma and
                                    not roots_within(params, sp.dims, 1 - ROOT_MARGIN)):
            ic = np.inf
        return Fitted(c, float(ic), model, params, float(llf), bool(converged))

    # -------------------------------------------------------------- pmdarima's _do_fit
    def _visit(self, c: Candidate) -> bool:
        """pmdarima's ``_do_fit`` on a fitted candidate: True when it is new and lowers the
        criterion (and so becomes the current best)."""
        if c in self.visited:
            return False
        self.visited.append(c)
        ic = self.fits[c].ic
        if not np.isfinite(ic):
            return False
        if self.best is None or ic < self.fits[self.best].ic:
            self.best = c
            return True
        return False

    def _need(self, cands):
        out = []
        for c in cands:
            if c not in self.fits and c not in out:
                out.append(c)
        return out

    def steps(self):
        """The search as a generator of requests (see the class docstring)."""
        if not self.opts.stepwise:
            yield from self._grid()
            return
        max_p, max_q, max_P, max_Q = self.max
        p, q, P, Q = self.start
        icpt = self.intercept0
        first = [(p, q, P, Q, icpt), (0, 0, 0, 0, icpt)]
        if max_p > 0 or max_P > 0:
            first.append((int(max_p > 0), 0, int(self.m > 0 and max_P > 0), 0, icpt))
        if max_q > 0 or max_Q > 0:
            first.append((0, int(max_q > 0), 0, int(self.m > 0 and max_Q > 0), icpt))
        if icpt:
            first.append((0, 0, 0, 0, False))
        cands = [self.candidate(*f) for f in first]
        need = self._need(cands)
        if need:
            yield need
        self._visit(cands[0])
        for f, c in zip(first[1:], cands[1:]):
            if self._visit(c):
                p, q, P, Q = f[:4]
        while len(self.visited) < MAX_FITS:
            k0 = len(self.visited)
            moves = []
            for dP, dQ in NEIGHBOURS:
                if 0 <= P + dP <= max_P and 0 <= Q + dQ <= max_Q and self.m:
                    moves.append((p, q, P + dP, Q + dQ, icpt))
            for dp, dq in NEIGHBOURS:
                if 0 <= p + dp <= max_p and 0 <= q + dq <= max_q:
                    moves.append((p + dp, q + dq, P, Q, icpt))
            if self.allow_intercept:
                moves.append((p, q, P, Q, not icpt))
            for mv in moves:  # in order, each fitted only when reached (as pmdarima)
                c = self.candidate(*mv)
                if len(self.visited) >= MAX_FITS:
                    break
                if c not in self.fits:
                    yield [c]
                if self._visit(c):
                    p, q, P, Q, icpt = mv
                    break
            if len(self.visited) == k0:  # a round with nothing new: done
                break

    def _grid(self):
        """stepwise=False: every (p, q, P, Q) within the bounds with p + q + P + Q <=
        max_order, at the starting intercept (pmdarima's grid search)."""
        max_p, max_q, max_P, max_Q = self.max
        cands = [self.candidate(p, q, P, Q, self.intercept0)
                 for p in range(max_p + 1) for q in range(max_q + 1)
                 for P in range(max_P + 1) for Q in range(max_Q + 1)
                 if p + q + P + Q <= self.opts.max_order]
        yield self._need(cands)
        for c in cands:
            self._visit(c)

    # -------------------------------------------------------------- the answer
    def result(self) -> ARIMAResults:
        finite = [f for f in self.fits.values() if np.isfinite(f.ic)]
        if not finite:
            raise ValueError(f"no candidate model could be fitted to the series "
                             f"({self.y.size} values, d={self.d}, D={self.D})")
        best = min(finite, key=lambda f: f.ic)  # the first fitted among equals
        # the candidates were fitted as pmdarima fits them (one start, <= 50 steps); the
        # selected model is refitted to the exact maximum (every start, to convergence)
        # and the refit kept when it is higher and passes the root test
        params, llf, converged = best.params, best.llf, best.converged
        try:
            r = best.model.fit()
            if r.llf > llf and np.isfinite(self.score(best.candidate, best.model, r.params,
                                                      r.llf, r.converged).ic):
                params, llf, converged = r.params, r.llf, r.converged
        except FIT_ERRORS:
            pass
        res = ARIMAResults(best.model, params, llf, "mle", converged)
        res.trend = best.model.trend
        res.auto = AutoSummary(self.d, self.D, self.opts.information_criterion,
                               list(self.fits.values()), list(self.visited))
        return res


# ------------------------------------------------------------------------------ driver
def _fit_requests(requests):
    """Fit every requested (search, candidate), grouped by specification: each group's
    candidates are fitted as pmdarima fits them, each by its own L-BFGS-B run, stepped
    together (``fit_candidates``); store each fit in its search."""
    groups: dict = {}
    for search, c in requests:
        model = search.model(c)
        if model is None:
            search.fits[c] = Fitted(c, np.inf)
            continue
        groups.setdefault(c, []).append((search, model))
    for c, members in groups.items():
        rows = fit_candidates([model for _, model in members])
        for (search, model), r in zip(members, rows):
            search.fits[c] = search.score(c, model, r.params, r.llf, r.converged) \
                if r is not None else Fitted(c, np.inf)


# A candidate whose fit fails scores +inf, as in pmdarima (which catches LinAlgError and
# ValueError); a zero prediction variance in the filter surfaces as ZeroDivisionError.
FIT_ERRORS = (ValueError, np.linalg.LinAlgError, ZeroDivisionError, FloatingPointError)


def fit_candidates(models):
    """Fit models of one specification as pmdarima fits a candidate -- from statsmodels'
    start values, at most ``CANDIDATE_MAXITER`` L-BFGS-B iterations -- each by its own
    L-BFGS-B run (``lbfgs.minimize_many``: its own curvature history, line search and
    stopping test, so each model's fit is the one it would get alone), all stepped
    together with one batched likelihood-and-score evaluation per round
    (``chandrasekhar.batch``). A ``FitResult`` per model, None where the fit failed."""
    out = [None] * len(models)
    live, starts, scalings, items = [], [], [], []
    for i, model in enumerate(models):
        try:
            sc = model.scaling()
            starts.append(model.to_unconstrained(model.statsmodels_start(), sc))
            items.append(model.objective_data(sc))
        except FIT_ERRORS:
            continue
        live.append(i)
        scalings.append(sc)
    if not live:
        return out
    # the objective: minus the mean log-likelihood, computed as ARIMA.objective computes it
    # (a division, not a product with 1 / n: the same bits, so the same iterates)
    n_eff = np.array([float(models[i].nobs_effective) for i in live])
    if len(live) == 1:  # one model: its own objective, without stacking
        evaluate = single(models[live[0]].objective(scalings[0], items[0]))
    else:
        stacked = []  # the stacked data of the problems still running (a shrinking set)

        def evaluate(U, rows):
            if not stacked or stacked[0] != len(rows):
                stacked[:] = len(rows), ch.stack([items[j] for j in rows]), n_eff[rows]
            _, data, n = stacked
            values, grads, _ = ch.batch(data, U)
            return _finite(-values / n, -grads / n[:, None])

    try:
        with blas_threads(1):
            res = minimize_many(evaluate, np.array(starts), maxiter=CANDIDATE_MAXITER,
                                **CANDIDATE_OPTIONS)
    except FIT_ERRORS:  # one series broke the batched evaluation: fit them one by one
        return [_fit_alone(m) for m in models]
    for j, i in enumerate(live):
        m = models[i]
        try:  # admissible by construction: ARIMA.loglike's checks would only cost time
            params = m.from_unconstrained(res.x[j], scalings[j])
            llf = ss.loglike(m.endog, m.regressors, params, m.spec.dims, ss.KAPPA,
                             ss.TOLERANCE)
            out[i] = FitResult(params, float(llf), bool(res.success[j]), "statsmodels")
        except FIT_ERRORS:
            pass
    return out


def _finite(f, g):
    """Where there is no likelihood (f not finite), +inf: the line search steps back."""
    if not np.isfinite(f).all():
        bad = ~np.isfinite(f)
        f[bad], g[bad] = np.inf, 0.0
    return f, g


# MLE_OPTIONS less maxiter: a candidate's fit differs from ARIMA.fit's first start only in
# stopping after CANDIDATE_MAXITER iterations
CANDIDATE_OPTIONS = {k: v for k, v in MLE_OPTIONS.items() if k != "maxiter"}


def _fit_alone(model):
    try:
        with blas_threads(1):
            return model.mle_from(model.statsmodels_start(), maxiter=CANDIDATE_MAXITER)
    except FIT_ERRORS:
        return None


def _run(searches):
    """Advance all searches together, batching each step's fits across them."""
    live = []
    for s in searches:
        gen = s.steps()
        live.append((s, gen, next(gen, None)))
    while live:
        _fit_requests([(s, c) for s, _, req in live if req for c in req])
        nxt = []
        for s, gen, req in live:
            if req is None:
                continue
            req = next(gen, None)
            if req is not None:
                nxt.append((s, gen, req))
        live = nxt
    return [s.result() for s in searches]


_DOC_ARGS = """
    seasonal, m: search seasonal orders of period m (m >= 2; m = 1 means none).
    d, D: the differencing orders; None chooses them by the KPSS (d) and OCSB (D) tests.
    max_p, max_q, max_P, max_Q, max_d, max_D: upper bounds of the orders.
    start_p, start_q, start_P, start_Q: the stepwise search's first model.
    max_order: the bound on p + q + P + Q of the grid (stepwise=False).
    information_criterion: "aic" (default), "aicc", "bic" or "hqic".
    stepwise: pmdarima's stepwise search (default) or the whole grid.
    trend: None for pmdarima's intercept rule (module docstring); 'n', 'c', 't' or 'ct'
        fixes the trend of every candidate.
    alpha: the KPSS test's level.
"""


def auto_arima(y, seasonal=False, m=1, d=None, D=None, max_p=5, max_q=5, max_P=2, max_Q=2,
               max_d=2, max_D=1, start_p=2, start_q=2, start_P=1, start_Q=1, max_order=5,
               information_criterion="aic", stepwise=True, trend=None,
               alpha=0.05) -> ARIMAResults:
    """Select and fit a (seasonal) ARIMA for one series as pmdarima's ``auto_arima`` does.

    Returns the selected model's ``ARIMAResults`` (as ``ARIMA.fit``: ``order``,
    ``seasonal_order``, ``trend``, ``aic``, ``llf``, forecasts ...); its ``auto`` attribute
    (an ``AutoSummary``) lists every model fitted with its criterion.
    """
    opts = _options(seasonal, m, d, D, max_p, max_q, max_P, max_Q, max_d, max_D, start_p,
                    start_q, start_P, start_Q, max_order, information_criterion, stepwise,
                    trend, alpha)
    return _run([Search(y, opts)])[0]


auto_arima.__doc__ += _DOC_ARGS


def _select_chunk(series, opts):  # a Dask task
    return _run([Search(y, opts) for y in series])


def auto_arima_many(Y, seasonal=False, m=1, d=None, D=None, max_p=5, max_q=5, max_P=2,
                    max_Q=2, max_d=2, max_D=1, start_p=2, start_q=2, start_P=1, start_Q=1,
                    max_order=5, information_criterion="aic", stepwise=True, trend=None,
                    alpha=0.05, scheduler=None, chunksize=None) -> list:
    """``auto_arima`` for every series of ``Y`` (an (N, n) array or a list of 1-D series of
    any lengths): a list of ``ARIMAResults``, one per series.

    The searches advance together: each step's candidate fits of all series are grouped by
    specification and stepped together (``fit_candidates``), each candidate by its own
    L-BFGS-B run, so each series gets what ``auto_arima`` gives it. ``scheduler="dask"``
    (or a ``distributed.Client``) splits the series into chunks of ``chunksize`` selected
    as Dask tasks, as ``fit_many`` does.
    """
    opts = _options(seasonal, m, d, D, max_p, max_q, max_P, max_Q, max_d, max_D, start_p,
                    start_q, start_P, start_Q, max_order, information_criterion, stepwise,
                    trend, alpha)
    series = as_series_list(Y)
    searches = []
    for i, y in enumerate(series):  # fail fast, naming the series
        try:
            searches.append(Search(y, opts))
        except (ValueError, TypeError) as e:
            raise type(e)(f"series {i}: {e}") from None
    if scheduler is None:
        return _run(searches)
    if scheduler == "dask" or hasattr(scheduler, "submit"):
        try:
            import dask
        except ImportError as e:
            raise RuntimeError("scheduler='dask' needs Dask: pip install 'tinyrnn[dask]'") from e
        size = chunksize or chunk_size(len(series), scheduler)
        tasks = [dask.delayed(_select_chunk)([s.y for s in searches[i:i + size]], opts)
                 for i in range(0, len(series), size)]
        parts = dask.compute(*tasks) if scheduler == "dask" else \
            scheduler.gather(scheduler.compute(tasks))
        return [r for part in parts for r in part]
    raise ValueError(f"scheduler must be None, 'dask' or a distributed.Client, got "
                     f"{scheduler!r}")


auto_arima_many.__doc__ += _DOC_ARGS
