#!/usr/bin/env python3
"""Turns perf/llm/run.sh's raw JSON lines into perf/results/llm-<date>.json and .md (medians).

Before any ratio, every run of a scenario must have done the same work: each persona-runtime and
each Python baseline run completed exactly the scenario's number of calls with none failed, and in
(c) each found every one of the cached answers (the runtime's "cached", the replay's "found").
Otherwise it prints what differs and exits 3 without writing anything (a baseline that finds
nothing would otherwise show as a division by zero, or one that does less work as a speed-up).
--check-only makes only that check (run.sh calls it after every repeat, to stop early).
"""
import argparse, datetime, json, os, platform, statistics, sys

ap = argparse.ArgumentParser()
ap.add_argument("--raw", required=True)
ap.add_argument("--out-dir")
ap.add_argument("--repeats", type=int)
ap.add_argument("--concurrency", type=int)
ap.add_argument("--calls", required=True)
ap.add_argument("--load")
ap.add_argument("--command")
ap.add_argument("--check-only", action="store_true")
a = ap.parse_args()
if not a.check_only:
    missing = [o for o in ("out_dir", "repeats", "concurrency", "load", "command") if getattr(a, o) is None]
    if missing:
        ap.error("required without --check-only: " + ", ".join("--" + o.replace("_", "-") for o in missing))

rows = [json.loads(l) for l in open(a.raw) if l.strip()]
calls_a, calls_b, calls_c = (int(x) for x in a.calls.split(","))
EXPECTED = {"a": calls_a, "b": calls_b, "c": calls_c}
BASELINES = {"a": "python-aiohttp", "b": "python-aiohttp", "c": "python-sqlite3"}


def same_work_problems():
    """Each runtime and baseline run against the scenario's count; empty when all did the same work."""
    problems = []
    for scen, n in EXPECTED.items():
        runs = {tool: [r for r in rows if r["scenario"] == scen and r["tool"] == tool] for tool in ("persona-runtime", BASELINES[scen])}
        if not runs["persona-runtime"] and not runs[BASELINES[scen]]:
            continue
        if len(runs["persona-runtime"]) != len(runs[BASELINES[scen]]):
            problems.append(f"({scen}): {len(runs['persona-runtime'])} persona-runtime runs but {len(runs[BASELINES[scen]])} {BASELINES[scen]} runs")
        def counts(tool, r):
            c = {"completed calls": r.get("calls"), "failed calls": r.get("failed", 0) or 0}
            if scen == "c":
                c["cached answers found"] = r.get("cached") if tool == "persona-runtime" else r.get("found")
            return c
        want = {"completed calls": n, "failed calls": 0, "cached answers found": n}
        fmt = lambda v: "not reported" if v is None else f"{v:,}" if isinstance(v, int) else str(v)
        for tool, rs in runs.items():
            for i, r in enumerate(rs, 1):
                ours = counts("persona-runtime", runs["persona-runtime"][i - 1]) if tool != "persona-runtime" and i <= len(runs["persona-runtime"]) else None
                for what, got in counts(tool, r).items():
                    if got != want[what]:
                        problems.append(f"({scen}) run {i}: {tool} {what} {fmt(got)}, expected {want[what]:,}"
                                        + (f" (persona-runtime: {fmt(ours[what])})" if ours else ""))
    return problems


problems = same_work_problems()
if problems:
    print("perf/llm: the runtime and its baseline did not do the same work, so no ratio is computed and nothing is written:", file=sys.stderr)
    for p in problems:
        print("  " + p, file=sys.stderr)
    if any("python-sqlite3" in p and "found" in p for p in problems):
        print("  (the replay baseline's key must match src/Persona.Core/Llm/CacheKey.cs and RunStore.KeyHash; see perf/llm/sqlite_replay.py)", file=sys.stderr)
    sys.exit(3)
if a.check_only:
    sys.exit(0)
ideal_a = a.concurrency / 0.1
FLOORS = {"a": ("efficiency", 0.90), "b": ("calls_per_s", 2000), "c": ("calls_per_s", 50000)}
TITLES = {"a": f"(a) latency 100 ms, concurrency {a.concurrency}, {calls_a:,} calls",
          "b": f"(b) latency 0, concurrency {a.concurrency}, {calls_b:,} calls",
          "c": f"(c) replay of {calls_c:,} cached calls"}
summary = {}
for scen in "abc":
    for tool in ("persona-runtime", "python-aiohttp", "python-sqlite3", "persona-cli"):
        rs = [r for r in rows if r["scenario"] == scen and r["tool"] == tool]
        if not rs:
            continue
        med = lambda k: statistics.median(r[k] for r in rs) if all(k in r for r in rs) else None
        s = {"runs": len(rs), "calls_per_s": med("calls_per_s"), "cpu_ms_per_call": med("cpu_ms_per_call"),
             "peak_rss_mb": med("peak_rss_mb"), "wall_s": med("wall_s"),
             "all_calls_per_s": [r["calls_per_s"] for r in rs], "failed": sum(r.get("failed", 0) or 0 for r in rs)}
        if tool == "persona-runtime":
            s["alloc_bytes_per_call"] = med("alloc_bytes_per_call")
            s["calls_phase_s"] = med("calls_phase_s")
        if scen == "a":
            s["efficiency"] = s["calls_per_s"] / ideal_a
        summary.setdefault(scen, {})[tool] = s
for scen, tools in summary.items():
    ours, base = tools.get("persona-runtime"), tools.get("python-aiohttp") or tools.get("python-sqlite3")
    if ours and base and base["calls_per_s"] and base["cpu_ms_per_call"]:
        ours["ratio_calls_per_s_vs_python"] = ours["calls_per_s"] / base["calls_per_s"]
        ours["ratio_cpu_per_call_vs_python"] = ours["cpu_ms_per_call"] / base["cpu_ms_per_call"]
    key, floor = FLOORS[scen]
    if ours:
        ours["floor"] = {key: floor, "met": ours[key] >= floor}

date = datetime.date.today().isoformat()
doc = {"date": date, "command": a.command, "repeats": a.repeats, "concurrency": a.concurrency,
       "machine": f"{os.cpu_count()} cores, {platform.platform()}", "load_average_before_after": a.load.split("|"),
       "results": summary, "raw": rows}
os.makedirs(a.out_dir, exist_ok=True)
with open(os.path.join(a.out_dir, f"llm-{date}.json"), "w") as f:
    json.dump(doc, f, indent=2)

f1 = lambda x, d=0: "" if x is None else f"{x:,.{d}f}"
lines = [f"# LM runtime benchmark, {date}", "",
         f"Command: `{a.command}`. Medians of {a.repeats} repeats; machine: {doc['machine']}; load average "
         f"(1/5/15 min) before: {doc['load_average_before_after'][0]}, after: {doc['load_average_before_after'][1]} "
         "(other sessions share the 2 cores, so wall-clock numbers are noisy; CPU per call is steadier).", "",
         "Client CPU is the client process's own CPU time (the fake server runs in a separate process). "
         "Peak memory is the client's peak RSS (VmHWM / ru_maxrss; for ours it includes the SQLite file pages it maps).", "",
         "| scenario | client | calls/s (median) | runs | client CPU ms/call | peak RSS MB | vs Python (calls/s) | vs Python (CPU/call) | floor |",
         "|---|---|---:|---:|---:|---:|---:|---:|---|"]
for scen in "abc":
    for tool, s in summary.get(scen, {}).items():
        fl = ""
        if "floor" in s:
            k, v = next((k, v) for k, v in s["floor"].items() if k != "met")
            fl = (f"efficiency {s['efficiency']:.1%} ≥ 90%" if k == "efficiency" else f"≥ {v:,}") + (" **met**" if s["floor"]["met"] else " **missed**")
        elif scen == "a" and "efficiency" in s:
            fl = f"efficiency {s['efficiency']:.1%}"
        ratio = lambda k: f"{s[k]:.2f}x" if k in s else ""
        lines.append(f"| {TITLES[scen]} | {tool} | {f1(s['calls_per_s'])} | {s['runs']} | {f1(s['cpu_ms_per_call'], 3)} | {f1(s['peak_rss_mb'])} | "
                     f"{ratio('ratio_calls_per_s_vs_python')} | {ratio('ratio_cpu_per_call_vs_python')} | {fl} |")
lines += ["", "persona-runtime: LlmRuntime (openai provider, SQLite cache, accounting, retry, endpoint pool) driven by BatchRunner, as "
          "`persona llm batch` runs it; calls/s is over the whole batch including writing the output file and the final store flush. "
          "persona-cli: one run of the real `persona llm batch` process end to end (start-up, reading and validating the input, "
          "progress bar, output, manifest). python-aiohttp: perf/llm/aiohttp_client.py (no cache, no retries, no output file). "
          "python-sqlite3: perf/llm/sqlite_replay.py, the same lookups over the same store, single-threaded, without provenance rows.", ""]
with open(os.path.join(a.out_dir, f"llm-{date}.md"), "w") as f:
    f.write("\n".join(lines))
print("\n".join(lines))
