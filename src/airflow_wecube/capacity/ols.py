"""The numpy OLS behind :func:`airflow_wecube.capacity.fit.fit_model`: coefficients, classical or
HAC (Newey-West, Bartlett weights) covariance, R² and VIF from the normal equations of standardised
features, in blocks so long windows stay within memory. Matches statsmodels' OLS number for number
(``tests/unit/capacity/test_fit.py``) at a fraction of its cost.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def vif(matrix: Any) -> list[float]:
    """Variance inflation factors of the columns of ``matrix`` (rows = observations), beside an intercept.

    ``diag(inv(corr))``: 1 for a column the others do not explain, growing as they do, infinite for a
    column that is a combination of the others. A constant column is the intercept's twin: its VIF is
    infinite, and it is left out of the other columns' VIFs (it cannot inflate them). The one VIF of the
    package: the load design keeps it low, a fit warns when it is high.
    """
    x = np.asarray(matrix, dtype=float)
    if x.ndim != 2:
        raise ValueError("a design matrix is 2-dimensional")
    out = [math.inf] * x.shape[1]
    varying = np.flatnonzero(np.ptp(x, axis=0) > 0) if len(x) else np.array([], dtype=int)
    if len(varying) == 1:
        out[varying[0]] = 1.0
    elif len(varying) > 1:
        try:
            values = np.diag(np.linalg.inv(np.corrcoef(x[:, varying], rowvar=False)))
        except np.linalg.LinAlgError:
            values = np.full(len(varying), np.inf)
        for i, v in zip(varying, values, strict=True):
            out[i] = float(v) if np.isfinite(v) and v > 0 else math.inf
    return out


def hac_meat(gt: np.ndarray, maxlags: int, *, overwrite: bool = False) -> np.ndarray:
    """Newey-West's inner matrix ``S = Σ_{|l|<=L} (1 - |l|/(L+1)) Σ_t g_t g_{t-l}'`` of scores ``gt`` (p×n).

    Bartlett weights are a triangle, and a triangle is a box convolved with itself: with
    ``h_s = g_s + ... + g_{s-L}`` (moving sums of the zero-padded scores, ``s = 0 .. n+L-1``),
    ``Σ_s h_s h_s' = (L+1) S`` exactly, edges included. So S costs one cumulative sum and one p×p
    product whatever L is, instead of L+1 lagged products (statsmodels' loop); the tests check both agree.

    :param overwrite: let the cumulative sum reuse ``gt`` (saves allocating and faulting in another p×n array)
    """
    p, n = gt.shape
    lags = max(0, min(int(maxlags), n - 1))
    if lags == 0:
        return np.einsum("ij,kj->ik", gt, gt)
    w = lags + 1
    c = np.cumsum(gt, axis=1, out=gt if overwrite else None)
    meat = np.einsum("ij,kj->ik", c[:, :w], c[:, :w])  # h_s = c_s for s < w
    buf = np.empty((p, min(_BLOCK, n)))
    for a in range(w, n, _BLOCK):  # h_s = c_s - c_{s-w}, in cache-sized blocks
        b = min(a + _BLOCK, n)
        d = np.subtract(c[:, a:b], c[:, a - w : b - w], out=buf[:, : b - a])
        meat += np.einsum("ij,kj->ik", d, d)
    tail = c[:, n - 1 : n] - c[:, n - w : n - 1]  # h_s for n <= s < n+L (g is zero past the end)
    meat += np.einsum("ij,kj->ik", tail, tail)
    return meat / w


_BLOCK = 8192


def ols_fast(X: np.ndarray, y: np.ndarray, maxlags: int | None = None) -> dict[str, Any]:
    """OLS of ``y`` on an intercept and ``X`` with inference, in a few passes over the data.

    :param maxlags: ``None`` for classical (iid) standard errors, else the Newey-West lag window of
        HAC standard errors (Bartlett weights, small-sample factor ``n/(n-p)``, as statsmodels'
        ``cov_type="HAC", cov_kwds={"maxlags": L, "use_correction": True}``)

    Works on standardised features (centred, unit variance), so the k×k cross-product is a
    correlation matrix: well conditioned unless features are collinear, and its eigenvalues give
    the rank and its inverse the VIFs for free. Same numbers as ``statsmodels.OLS`` (the tests check
    it to 1e-9) at a fraction of the cost (statsmodels decomposes the n×p design twice and recomputes
    the residuals for each statistic); with classical errors about as cheap as a bare
    ``numpy.linalg.lstsq`` (which returns no inference at all), HAC adds a cumulative sum of the scores.
    """
    from scipy import stats as sps

    n, k = X.shape
    p = k + 1
    rows = np.empty((p, n))  # row 0 is free for the residuals of the HAC scores; rows 1.. hold the features
    rows[1:] = X.T
    zt = rows[1:]  # k×n, rows contiguous: fast BLAS for any n
    mu = zt.mean(axis=1)
    zt -= mu[:, None]
    sd = np.sqrt(np.einsum("ij,ij->i", zt, zt) / n)
    if np.any(sd == 0):
        return {"rank": int(np.sum(sd > 0)) + 1}
    zt /= sd[:, None]
    ybar = float(y.mean())
    yc = y - ybar
    # einsum rather than BLAS: on a busy machine threaded BLAS dot products of long vectors stall
    ztz = np.einsum("ij,kj->ik", zt, zt)
    corr = ztz / n
    eig = np.linalg.eigvalsh(corr)
    rank = int(np.sum(eig > eig.max() * 1e-10)) + 1
    if rank < p:
        return {"rank": rank}
    zty = np.einsum("ij,j->i", zt, yc)
    inv_ztz = np.linalg.inv(ztz)
    gamma = inv_ztz @ zty
    resid = yc - np.einsum("i,ij->j", gamma, zt)
    ssr = float(np.einsum("i,i->", resid, resid))
    dof = n - p
    scale = ssr / dof
    beta = gamma / sd
    intercept = ybar - float(mu @ beta)
    # covariance of theta = (ybar, gamma), the coefficients on [1, z]; [1, z]'[1, z] = diag(n, ztz)
    if maxlags is None:
        cov_theta = np.zeros((p, p))
        cov_theta[0, 0] = scale / n
        cov_theta[1:, 1:] = scale * inv_ztz
    else:
        # scores [1, z_t] u_t, built in place: zt is not needed any more
        rows[0] = resid
        zt *= resid
        hinv = np.zeros((p, p))
        hinv[0, 0] = 1.0 / n
        hinv[1:, 1:] = inv_ztz
        cov_theta = hinv @ hac_meat(rows, maxlags, overwrite=True) @ hinv * (n / (n - p))
    # raw parameters = A theta: intercept = ybar - (mu/sd)'gamma, beta = gamma/sd
    A = np.zeros((p, p))
    A[0, 0] = 1.0
    A[0, 1:] = -mu / sd
    A[1:, 1:] = np.diag(1.0 / sd)
    cov = A @ cov_theta @ A.T
    params = np.concatenate([[intercept], beta])
    bse = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        tvalues = params / bse
    pvalues = 2 * sps.t.sf(np.abs(tvalues), dof)
    half = sps.t.ppf(0.975, dof) * bse
    sst = float(np.einsum("i,i->", yc, yc))
    r2 = 1 - ssr / sst if sst > 0 else float("nan")
    # sufficient statistics of the raw design [1, X] (for the Chow test), rebuilt from the standardised ones
    xtx = np.empty((p, p))
    xtx[0, 0] = n
    xtx[0, 1:] = xtx[1:, 0] = n * mu
    xtx[1:, 1:] = ztz * np.outer(sd, sd) + n * np.outer(mu, mu)
    sum_y = ybar * n
    xty = np.concatenate([[sum_y], sd * zty + mu * sum_y])
    vifs = np.diag(np.linalg.inv(corr))
    return {
        "rank": rank,
        "params": params,
        "bse": bse,
        "ci": np.column_stack([params - half, params + half]),
        "pvalues": pvalues,
        "r2": r2,
        "adj_r2": 1 - (1 - r2) * (n - 1) / dof,
        "scale": scale,
        "ssr": ssr,
        "xtx": xtx,
        "xty": xty,
        "vif": vifs,
        "cov": cov,
    }
