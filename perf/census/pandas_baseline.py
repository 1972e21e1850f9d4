#!/usr/bin/env python3
"""The baseline users reach for today: pandas read_csv, a weighted numpy draw, and a dict decode.

Run under /usr/bin/time by perf/census/run.sh, beside `persona` on the same files, so both are
measured in one run. Prints one JSON line with its own phase timings.

  pandas_baseline.py --dictionary DICT.csv --n 100000 --seed 1 FILE [FILE ...]

FILE may be a CSV or a Census zip (read in place by pandas). Decoding maps every categorical code
of the persona variables to its dictionary label, as `persona` does.
"""
import argparse, csv, json, sys, time, zipfile

import numpy as np
import pandas as pd

# The persona's categorical variables that appear in the files (numeric AGEP/PINCP stay numbers).
CATEGORICAL = ["SEX", "RAC1P", "HISP", "ANC1P", "SCHL", "ESR", "COW", "INDP", "OCCP", "MAR", "POBP",
               "NATIVITY", "CIT", "MIL", "DIS", "HICOV", "DREM", "ENG", "DEYE", "FER", "DEAR"]


def load_dictionary(path):
    labels = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.reader(f):
            if len(row) >= 7 and row[0] == "VAL" and row[4] == row[5] and row[4].lstrip("-").isdigit():
                labels.setdefault(row[1], {})[int(row[4])] = row[6]
    return labels


def read(path):
    # The Census zips also hold a README PDF, which pandas' own zip support refuses; stream the CSV member.
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as z:
            member = next(n for n in z.namelist() if n.endswith(".csv"))
            with z.open(member) as f:
                return pd.read_csv(f, low_memory=False)
    return pd.read_csv(path, low_memory=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dictionary", required=True)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()

    t0 = time.perf_counter()
    frames = [read(f) for f in a.files]
    df = pd.concat(frames, ignore_index=True)
    t_load = time.perf_counter() - t0

    t1 = time.perf_counter()
    w = df["PWGTP"].to_numpy(dtype=np.float64)
    rng = np.random.default_rng(a.seed)
    idx = rng.choice(len(df), size=a.n, replace=True, p=w / w.sum())
    sample = df.iloc[idx]
    t_draw = time.perf_counter() - t1

    t2 = time.perf_counter()
    labels = load_dictionary(a.dictionary)
    decoded = {}
    for col in CATEGORICAL:
        if col in sample.columns and col in labels:
            decoded[col] = sample[col].map(labels[col])
    decoded = pd.DataFrame(decoded)
    t_decode = time.perf_counter() - t2

    print(json.dumps({"tool": "pandas", "pandas": pd.__version__, "rows": int(len(df)),
                      "columns": int(df.shape[1]), "drawn": int(len(decoded)),
                      "load_s": round(t_load, 3), "draw_s": round(t_draw, 3),
                      "decode_s": round(t_decode, 3)}))


if __name__ == "__main__":
    sys.exit(main())
