#!/usr/bin/env python3
"""Python side of perf/stats/run.sh, on the same (simulated) files; one JSON line per call.

  twoway SCORES RESAMPLES SEED   two-way clustered bootstrap of accuracy. No library has it: numpy,
                                 hand-written, the same algorithm (persona/prompt draw counts times
                                 a dense persona x prompt matrix of sums), vectorised per resample.
  alpha RATINGS LEVEL            Krippendorff's alpha: Debian has no package for it, so numpy,
                                 hand-written from a units x values count matrix (nominal/interval).
  kappa RATINGS                  Cohen's kappa: scikit-learn cohen_kappa_score (unweighted,
                                 quadratic) and statsmodels cohens_kappa (SE); Fleiss' kappa:
                                 statsmodels fleiss_kappa.
"""
import json, sys, time
import numpy as np
import pandas as pd

def twoway(path, resamples, seed):
    t = time.perf_counter()
    df = pd.read_csv(path)
    load = time.perf_counter() - t
    t = time.perf_counter()
    p, pn = pd.factorize(df["persona"])
    q, qn = pd.factorize(df["prompt"])
    P, Q = len(pn), len(qn)
    S = np.zeros((P, Q)); N = np.zeros((P, Q))
    np.add.at(S, (p, q), df["score"].to_numpy(float)); np.add.at(N, (p, q), 1)
    rng = np.random.default_rng(seed)
    reps = np.empty(resamples)
    for r in range(resamples):
        a = np.bincount(rng.integers(0, P, P), minlength=P).astype(float)
        b = np.bincount(rng.integers(0, Q, Q), minlength=Q).astype(float)
        reps[r] = (a @ S @ b) / (a @ N @ b)
    est = S.sum() / N.sum()
    lo, hi = np.percentile(reps, [2.5, 97.5])
    compute = time.perf_counter() - t
    print(json.dumps({"scores": len(df), "resamples": resamples, "load_s": round(load, 3), "compute_s": round(compute, 3),
                      "estimate": est, "se": float(reps.std(ddof=1)), "lo": float(lo), "hi": float(hi)}))

def alpha(path, level):
    t = time.perf_counter()
    df = pd.read_csv(path)
    load = time.perf_counter() - t
    t = time.perf_counter()
    u, _ = pd.factorize(df["item"])
    prep = 0.0  # factorising is the whole preparation; it is timed with the computation
    v, values = pd.factorize(df["label"], sort=True)
    counts = np.zeros((u.max() + 1, len(values)))
    np.add.at(counts, (u, v), 1)
    m = counts.sum(1)
    keep = m >= 2
    counts, m = counts[keep], m[keep]
    # coincidences o_ck = sum_u n_uc (n_uk - [c == k]) / (m_u - 1)
    o = (counts / (m - 1)[:, None]).T @ counts
    o -= np.diag((counts / (m - 1)[:, None]).sum(0))
    nc = o.sum(1); n = nc.sum()
    x = np.asarray(values, float)
    if level == "nominal":
        d = 1.0 - np.eye(len(values))
    else:
        d = (x[:, None] - x[None, :]) ** 2
    alpha = 1 - (n - 1) * (o * d).sum() / (np.outer(nc, nc) * d).sum()
    compute = time.perf_counter() - t
    print(json.dumps({"ratings": int(len(df)), "level": level, "load_s": round(load, 3), "prep_s": prep, "compute_s": round(compute, 3), "alpha": float(alpha)}))

def kappa(path):
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa, aggregate_raters
    t = time.perf_counter()
    df = pd.read_csv(path)
    load = time.perf_counter() - t
    t = time.perf_counter()
    wide = df.pivot(index="item", columns="rater", values="label")
    a, b = wide["r0"].to_numpy(), wide["r1"].to_numpy()
    prep = time.perf_counter() - t
    t = time.perf_counter()
    k = cohen_kappa_score(a, b)
    kq = cohen_kappa_score(a, b, weights="quadratic")
    table = pd.crosstab(a, b).to_numpy()
    sm = cohens_kappa(table)
    f = fleiss_kappa(aggregate_raters(wide.to_numpy())[0])
    compute = time.perf_counter() - t
    print(json.dumps({"items": int(len(wide)), "load_s": round(load, 3), "prep_s": round(prep, 3), "compute_s": round(compute, 3), "cohen": float(k),
                      "cohen_se": float(sm.std_kappa), "cohen_quadratic": float(kq), "fleiss": float(f)}))

cmd = sys.argv[1]
if cmd == "twoway": twoway(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
elif cmd == "alpha": alpha(sys.argv[2], sys.argv[3])
elif cmd == "kappa": kappa(sys.argv[2])
else: sys.exit("usage: twoway|alpha|kappa ...")
