#!/usr/bin/env python3
"""Samples a running `persona run` until it exits: one JSON line per tick with the stage in flight
(the first stage the run's manifest does not yet list as completed), VmRSS, VmHWM and the 1-minute
load average, with VmRSS split into anonymous (heaps, native buffers) and file-backed (mapped
store pages, loaded libraries) memory. Each stage's peak resident set is then the largest VmRSS seen while it ran, so the
stage that sets the process's peak is named, not guessed.
    stagewatch.py PID RUN_DIR OUT.jsonl [INTERVAL_S]
"""
import json, os, sys, time

# The registry's order (TestbedStages.cs).
STAGES = ["population", "survey", "prompts", "pairs", "rm", "bench", "loo", "passk", "summaries", "study", "dataset", "report"]
pid, run_dir, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
interval = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0


def stage():
    try:
        with open(os.path.join(run_dir, "manifest.json")) as f:
            done = {k for k, v in json.load(f).get("stages", {}).items() if v.get("status") == "completed"}
    except (OSError, ValueError):  # not written yet, or being replaced
        done = set()
    return next((s for s in STAGES if s not in done), "done")


def status():
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[k] = int(v.split()[0]) // 1024
    return fields


start = time.time()
with open(out, "a") as o:
    while True:
        try:
            s = status()
        except (FileNotFoundError, ProcessLookupError):
            break
        o.write(json.dumps({"t_s": round(time.time() - start), "stage": stage(), "vm_rss_mb": s.get("VmRSS"),
                            "vm_hwm_mb": s.get("VmHWM"),
                            "rss_anon_mb": s.get("RssAnon"), "rss_file_mb": s.get("RssFile"), "load": open("/proc/loadavg").read().split()[0]}) + "\n")
        o.flush()
        time.sleep(interval)
