"""Baseline for `survey score`: the same scoring in Python + numpy on the same files, to set the C# timing
beside a reference implementation of the field's convention (OpinionQA/SubPOP normalised ordinal
1-Wasserstein). Computes what SurveyScoring.Score computes: each cell's distance and its uniform and
population-prior baselines, per group the mean with a percentile bootstrap over questions and the gain
against the prior with its bootstrap, per attribute and overall a bootstrap clustered by question, and the
dispersion (each group's distance to the mean of the groups, predicted and real). It writes no files.
usage: numpy_baseline.py SURVEY PREDICTIONS [RESAMPLES=1000] [REPEAT=3]"""
import json, sys, time
import numpy as np

survey_path, preds_path = sys.argv[1], sys.argv[2]
R = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
repeat = int(sys.argv[4]) if len(sys.argv) > 4 else 3

t0 = time.perf_counter()
items = {}
questions = {}
for line in open(survey_path, encoding="utf-8"):
    if not line.strip(): continue
    r = json.loads(line)
    items[(r["qkey"], r["attribute"], r["group"])] = r
    questions.setdefault(r["qkey"], []).append(r)
preds = [json.loads(l) for l in open(preds_path, encoding="utf-8") if l.strip()]
read_s = time.perf_counter() - t0


def w1(ordinal, p, q):
    """p, q: (n, k) arrays; ordinal: (k,). Normalised ordinal 1-Wasserstein per row (nan when a side has no mass on the scale)."""
    keep = ordinal != -1
    o = ordinal[keep]
    order = np.argsort(o, kind="stable")
    o = o[order]
    p = p[:, keep][:, order]
    q = q[:, keep][:, order]
    sp, sq = p.sum(1, keepdims=True), q.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        cp, cq = np.cumsum(p / sp, 1), np.cumsum(q / sq, 1)
    steps = np.diff(o)
    d = (np.abs(cp[:, :-1] - cq[:, :-1]) * steps).sum(1) / (o[-1] - o[0])
    d[(sp[:, 0] <= 0) | (sq[:, 0] <= 0)] = np.nan
    return d


def score():
    by_q = {}
    for p in preds:
        by_q.setdefault(p["qkey"], []).append(p)
    cell_q, cell_g, dist, unif, prior = [], [], [], [], []
    disp_pred, disp_real = {}, {}
    for qi, (qkey, rows) in enumerate(by_q.items()):
        ordinal = np.asarray(questions[qkey][0]["ordinal"], float)
        allreal = np.asarray([r["responses"] for r in questions[qkey]], float)
        pri = allreal.mean(0)
        real = np.asarray([items[(qkey, p["attribute"], p["group"])]["responses"] for p in rows], float)
        pred = np.asarray([p["distribution"] for p in rows], float)
        k = len(ordinal)
        dist.append(w1(ordinal, pred, real))
        unif.append(w1(ordinal, np.full_like(real, 1.0 / k), real))
        prior.append(w1(ordinal, np.broadcast_to(pri, real.shape), real))
        groups = [p["attribute"] + "=" + p["group"] for p in rows]
        cell_q += [qi] * len(rows)
        cell_g += groups
        if len(rows) >= 2:
            dp = w1(ordinal, pred, np.broadcast_to(pred.mean(0), pred.shape))
            dr = w1(ordinal, real, np.broadcast_to(real.mean(0), real.shape))
            for g, a, b in zip(groups, dp, dr):
                disp_pred.setdefault(g, []).append(a)
                disp_real.setdefault(g, []).append(b)
    dist, unif, prior = np.concatenate(dist), np.concatenate(unif), np.concatenate(prior)
    cell_q, cell_g = np.asarray(cell_q), np.asarray(cell_g)
    ok = ~np.isnan(dist)
    rng = np.random.default_rng(1)
    out = {"groups": {}}

    def boot_mean(x):
        idx = rng.integers(0, len(x), size=(R, len(x)))
        m = x[idx].mean(1)
        return np.percentile(m, [2.5, 97.5])

    def boot_clustered(x, clusters):
        uq, inv = np.unique(clusters, return_inverse=True)
        sums, counts = np.bincount(inv, weights=x), np.bincount(inv)
        idx = rng.integers(0, len(uq), size=(R, len(uq)))
        m = sums[idx].sum(1) / counts[idx].sum(1)
        return np.percentile(m, [2.5, 97.5])

    for g in dict.fromkeys(cell_g[ok]):
        sel = ok & (cell_g == g)
        x = dist[sel]
        gain = x - prior[sel]
        out["groups"][g] = {"mean_distance": float(x.mean()), "interval": boot_mean(x).tolist(), "gain": float(gain.mean()), "gain_interval": boot_mean(gain).tolist()}
    attrs = np.asarray([g.split("=", 1)[0] for g in cell_g])
    out["attributes"] = {a: float(dist[ok & (attrs == a)].mean()) for a in dict.fromkeys(attrs)}
    for a in out["attributes"]:
        sel = ok & (attrs == a)
        boot_clustered(dist[sel], cell_q[sel])
    out["overall_mean_distance"] = float(dist[ok].mean())
    out["overall_interval"] = boot_clustered(dist[ok], cell_q[ok]).tolist()
    out["uniform"] = float(unif[ok].mean())
    out["prior"] = float(prior[ok].mean())
    dp = {g: np.mean(v) for g, v in disp_pred.items()}
    dr = {g: np.mean(v) for g, v in disp_real.items()}
    out["dispersion_ratio"] = float(np.mean(list(dp.values())) / np.mean(list(dr.values())))
    return out


times = []
for _ in range(repeat):
    t = time.perf_counter()
    res = score()
    times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({"part": "numpy_baseline", "rows": len(preds), "resamples": R, "numpy": np.__version__, "read_s": round(read_s, 3),
                  "score_s": [round(t, 3) for t in times], "score_median_s": round(times[len(times) // 2], 3),
                  "overall_mean_distance": res["overall_mean_distance"], "uniform": res["uniform"], "prior": res["prior"],
                  "dispersion_ratio": res["dispersion_ratio"],
                  "groups_mean_distance": {g: v["mean_distance"] for g, v in res["groups"].items()}}, indent=2))
