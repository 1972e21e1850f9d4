#!/usr/bin/env python3
"""Baseline for replaying cached calls: what a Python script over the same SQLite cache does.

  sqlite_replay.py --in requests.jsonl --store run/store.sqlite --out results.jsonl

For each request line: the content address (SHA-256 of the same canonical JSON the runtime
hashes: model identity, messages, parameters), one lookup in the responses table through its
index of a 64-bit key hash (the first 8 bytes of the key's SHA-256), one output line. No provenance rows, no budget: the floor a runtime that records them should match.
"""
import argparse, hashlib, json, resource, sqlite3, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--in", dest="inp", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="openai:fake-model")
    a = ap.parse_args()
    requests = []
    with open(a.inp, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                requests.append(json.loads(line))
    db = sqlite3.connect(a.store)
    cpu0, t0 = time.process_time(), time.perf_counter()
    ok = missing = 0
    with open(a.out, "w", encoding="utf-8") as out:
        for r in requests:
            canon = {"v": 1, "model": a.model,
                     "messages": [{"role": m["role"], "content": m["content"]} for m in r["messages"]],
                     "params": {"sample": 0}}
            key = hashlib.sha256(json.dumps(canon, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
            khash = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little", signed=True)
            row = db.execute("SELECT content, prompt_tokens, completion_tokens FROM responses WHERE khash=? AND key=?", (khash, key)).fetchone()
            if row is None:
                missing += 1
                out.write(json.dumps({"id": r["id"], "content": None, "error": "not cached"}) + "\n")
                continue
            ok += 1
            out.write(json.dumps({"id": r["id"], "content": row[0], "usage": {"prompt_tokens": row[1], "completion_tokens": row[2],
                                  "total_tokens": row[1] + row[2]}, "cached": True}, ensure_ascii=False) + "\n")
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(json.dumps({"tool": "python-sqlite3", "calls": ok, "failed": missing, "wall_s": round(wall, 3),
                      "calls_per_s": round(ok / wall, 1), "cpu_s": round(cpu, 3), "cpu_ms_per_call": round(1000 * cpu / max(ok, 1), 4),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
