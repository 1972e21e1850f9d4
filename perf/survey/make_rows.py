"""Synthetic scoring input for the `survey score` benchmark: the bundled GSS set's 133 questions repeated
under new keys (natspac~r0, natspac~r1, ...) until there are ROWS question x group cells, and one predicted
distribution per cell (the real one mixed with seeded noise, 6 decimals, summing to 1). Deterministic.
usage: make_rows.py SURVEY_OUT PREDICTIONS_OUT [ROWS=100000]"""
import json, random, sys

rows_wanted = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
gss = [json.loads(l) for l in open("data/survey/subpop_eval.jsonl", encoding="utf-8") if l.strip()]
rng = random.Random(20)
survey, preds = [], []
rep = 0
while len(preds) < rows_wanted:
    for r in gss:
        x = dict(r, qkey=f"{r['qkey']}~r{rep}")
        survey.append(x)
        if len(preds) < rows_wanted:
            noisy = [0.7 * s + 0.3 * rng.random() for s in r["responses"]]
            total = sum(noisy)
            d = [round(v / total, 6) for v in noisy]
            d[-1] = round(1 - sum(d[:-1]), 6)
            preds.append({"qkey": x["qkey"], "attribute": r["attribute"], "group": r["group"], "distribution": d})
    rep += 1
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for x in survey: f.write(json.dumps(x) + "\n")
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for p in preds: f.write(json.dumps(p) + "\n")
print(f"{len(survey)} survey rows ({rep} copies of {len(gss)}), {len(preds)} prediction rows")
