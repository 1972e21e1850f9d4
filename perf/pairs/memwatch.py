#!/usr/bin/env python3
"""Samples a running `persona pairs build` until it exits: one JSON line per tick with the pairs
written so far (newlines of the jsonl being written, read incrementally), VmRSS, VmHWM, the
anonymous and file-backed parts of the resident set (mmap'd store pages are RssFile, the heap
is RssAnon) and the 1-minute load average. Flatness is then a series, not one number.
    memwatch.py PID RUN_DIR OUT.jsonl [INTERVAL_S]
"""
import glob, json, os, sys, time

pid, run_dir, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
interval = float(sys.argv[4]) if len(sys.argv) > 4 else 30.0
state = {"path": None, "offset": 0, "lines": 0}


def pairs_written():
    # The build streams into .pairs.jsonl.<tag>.tmp and renames it on commit.
    paths = glob.glob(os.path.join(run_dir, ".pairs.jsonl.*.tmp")) or glob.glob(os.path.join(run_dir, "pairs.jsonl"))
    if not paths:
        return state["lines"]
    path = paths[0]
    if path != state["path"]:
        if state["path"] is not None and path.endswith("pairs.jsonl"):
            return state["lines"] if os.path.getsize(path) == state["offset"] else count_rest(path)
        state.update(path=path, offset=0, lines=0)
    return count_rest(path)


def count_rest(path):
    try:
        with open(path, "rb") as f:
            f.seek(state["offset"])
            while chunk := f.read(1 << 22):
                state["lines"] += chunk.count(b"\n")
                state["offset"] += len(chunk)
    except FileNotFoundError:
        pass
    return state["lines"]


def status():
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[k] = round(int(v.split()[0]) / 1024)
    return fields


t0 = time.monotonic()
with open(out, "a") as sink:
    while True:
        try:
            s = status()
        except (FileNotFoundError, ProcessLookupError):
            break
        row = {"t_s": round(time.monotonic() - t0), "pairs_written": pairs_written(),
               "vm_rss_mb": s.get("VmRSS"), "vm_hwm_mb": s.get("VmHWM"),
               "rss_anon_mb": s.get("RssAnon"), "rss_file_mb": s.get("RssFile"),
               "load": open("/proc/loadavg").read().split()[0]}
        sink.write(json.dumps(row) + "\n")
        sink.flush()
        time.sleep(interval)
