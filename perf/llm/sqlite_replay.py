#!/usr/bin/env python3
"""Baseline for replaying cached calls: what a Python script over the same SQLite cache does.

  sqlite_replay.py --in requests.jsonl --store run/store.sqlite --out results.jsonl

For each request line, the same work as the runtime's cache hit: the content address (SHA-256 of
the canonical JSON document src/Persona.Core/Llm/CacheKey.cs writes: format version, model
identity, messages, parameters, byte for byte as System.Text.Json's Utf8JsonWriter writes it), one
lookup in the responses table through its index of a 64-bit key hash (RunStore.KeyHash: the first
8 bytes, little-endian, of the SHA-256 of the key's UTF-8), one output line. No provenance rows, no
budget: the floor a runtime that records them should match.

Prints one JSON line: requests, found (answers found in the store), calls (= found), failed
(= not found), timings. perf/llm/summarize.py refuses to compare a run whose found count differs
from the runtime's. Exits 3 (after printing the line) when any answer was not found.
"""
import argparse, decimal, hashlib, json, resource, sqlite3, struct, sys, time

# CacheKey.FormatVersion: bump together with the C# constant.
KEY_FORMAT_VERSION = 2


def net_json_string(s):
    """A JSON string as Utf8JsonWriter writes it with its default encoder: printable ASCII as is except
    " & ' + < > ` and backslash; \\n \\r \\t \\b \\f \\\\ short; everything else (other controls, DEL,
    all non-ASCII) as \\uXXXX in upper-case hex, UTF-16 code units (surrogate pairs above U+FFFF)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if 0x20 <= o <= 0x7E and ch not in '"&\'+<>`\\':
            out.append(ch)
        elif ch in _SHORT:
            out.append(_SHORT[ch])
        elif o > 0xFFFF:
            o -= 0x10000
            out.append("\\u%04X\\u%04X" % (0xD800 + (o >> 10), 0xDC00 + (o & 0x3FF)))
        else:
            out.append("\\u%04X" % o)
    out.append('"')
    return "".join(out)


_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\\": "\\\\"}


def net_double(x):
    """A double as Utf8JsonWriter writes it (.NET's shortest round-trip "G": "1", "0.7", "1E-06", "1E+15")."""
    d = decimal.Decimal(repr(x))  # repr is the shortest round-trip digits, as .NET's
    sign, digits, exp = d.as_tuple()
    digits = "".join(map(str, digits)).rstrip("0") or "0"
    if digits == "0":
        return "-0" if sign else "0"
    e = d.adjusted()  # exponent of the first significant digit
    s = "-" if sign else ""
    if e < -4 or e >= 15:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{s}{mant}E{'-' if e < 0 else '+'}{abs(e):02d}"
    if e < 0:
        return f"{s}0.{'0' * (-e - 1)}{digits}"
    intpart = digits[:e + 1].ljust(e + 1, "0")
    frac = digits[e + 1:]
    return s + intpart + ("." + frac if frac else "")


def round6_of_float32(v):
    """Math.Round((double)(float)v, 6) as .NET computes it: times 10^6, round half to even, divided by 10^6."""
    f = struct.unpack("<f", struct.pack("<f", float(v)))[0]
    return round(f * 1e6) / 1e6 if abs(f) < 1e16 else f


def cache_key(model, request):
    """CacheKey.Compute(model, request.Messages, request.ToOptions()) for one line of a batch input file
    (BatchRequestReader.ParseLine: role "developer" is sent as "system"; temperature is a float;
    max_tokens and sample_index integers)."""
    parts = ['{"v":', str(KEY_FORMAT_VERSION), ',"model":', net_json_string(model), ',"messages":[']
    for i, m in enumerate(request["messages"]):
        role = "system" if m["role"] == "developer" else m["role"]
        parts.append(("," if i else "") + '{"role":' + net_json_string(role) + ',"content":' + net_json_string(m["content"]) + "}")
    parts.append('],"params":{')
    params = []
    temperature = request.get("temperature")
    if temperature is not None:
        params.append('"temperature":' + net_double(round6_of_float32(temperature)))
    if request.get("max_tokens") is not None:
        params.append('"max_tokens":' + str(int(request["max_tokens"])))
    # Sampling unless the temperature is exactly 0 (unset samples): then the sample index joins the key.
    if temperature is None or struct.unpack("<f", struct.pack("<f", float(temperature)))[0] != 0.0:
        params.append('"sample":' + str(int(request.get("sample_index") or 0)))
    parts.append(",".join(params))
    parts.append("}}")
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


def key_hash(key):
    """RunStore.KeyHash: the first 8 bytes of the key's SHA-256, as a little-endian signed 64-bit integer."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little", signed=True)


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
    # Read-only: the baseline must not migrate or otherwise change the store it measures.
    db = sqlite3.connect(f"file:{a.store}?mode=ro", uri=True)
    cols = {r[1] for r in db.execute("PRAGMA table_info(responses)")}
    if "khash" not in cols:
        sys.exit(f"sqlite_replay.py: {a.store} has no responses.khash column: a store from before the hash index "
                 "(open it once with the runtime to migrate it)")
    cpu0, t0 = time.process_time(), time.perf_counter()
    ok = missing = 0
    with open(a.out, "w", encoding="utf-8") as out:
        for r in requests:
            key = cache_key(a.model, r)
            row = db.execute("SELECT content, prompt_tokens, completion_tokens FROM responses WHERE khash=? AND key=?", (key_hash(key), key)).fetchone()
            if row is None:
                missing += 1
                out.write(json.dumps({"id": r["id"], "content": None, "error": "not cached"}) + "\n")
                continue
            ok += 1
            out.write(json.dumps({"id": r["id"], "content": row[0], "usage": {"prompt_tokens": row[1], "completion_tokens": row[2],
                                  "total_tokens": row[1] + row[2]}, "cached": True}, ensure_ascii=False) + "\n")
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    print(json.dumps({"tool": "python-sqlite3", "requests": len(requests), "found": ok, "calls": ok, "failed": missing, "wall_s": round(wall, 3),
                      "calls_per_s": round(ok / wall, 1) if wall > 0 else None, "cpu_s": round(cpu, 3),
                      "cpu_ms_per_call": round(1000 * cpu / max(ok, 1), 4),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
    if missing:
        print(f"sqlite_replay.py: found {ok:,} of {len(requests):,} answers in {a.store}; its key no longer matches the runtime's "
              "(see src/Persona.Core/Llm/CacheKey.cs and RunStore.KeyHash)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
