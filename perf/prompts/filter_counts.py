#!/usr/bin/env python3
"""Independent re-implementation of the cheap prompt filters (question mark, >= 5 words,
duplicates by normalised text, then by token set), used to cross-check the C# counts that
tests/Persona.Core.Tests/Prompts/PromptCuratorTests.cs asserts on the bundled PRISM prompts.

Usage: python3 perf/prompts/filter_counts.py [data/prism/prism_opening_prompts.json] [--expect REPORT.json]

--expect checks these counts against a C# run's report (perf/results/prompts-curation.json written
by perf/prompts, or a curation-report.json): the same source count and the same count after each
of the four filters, or it names what differs and exits 3. No timing is compared here: this is a
cross-check of counts, not a speed baseline.
"""
import argparse
import json
import sys
import unicodedata

EXTRA = {"ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ł": "l", "Ł": "l", "ħ": "h", "Ħ": "h", "ı": "i",
         "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "þ": "th", "Þ": "th"}
APOSTROPHES = set("'\u2019\u2018\u02bc`")


def normalise(text: str) -> str:
    text = "".join(EXTRA.get(c, c) for c in text)
    text = unicodedata.normalize("NFKD", text)
    out, pending = [], False
    for c in text:
        if unicodedata.category(c) in ("Mn", "Mc", "Me") or c in APOSTROPHES:
            continue
        if unicodedata.category(c)[0] == "L" or unicodedata.category(c) == "Nd":
            if pending and out:
                out.append(" ")
            pending = False
            out.append(c.lower())
        else:
            pending = True
    return "".join(out)


def words(text: str) -> int:
    return sum(1 for tok in text.split() if any(unicodedata.category(c)[0] == "L" or unicodedata.category(c) == "Nd" for c in tok))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?", default="data/prism/prism_opening_prompts.json")
    ap.add_argument("--expect", help="a C# curation report (JSON with \"filters\": [{filter, before, after}]) whose counts must match")
    a = ap.parse_args()
    prompts = json.load(open(a.path, encoding="utf-8"))
    counts = {"source": len(prompts)}
    print("source", len(prompts))
    prompts = [p for p in prompts if "?" in p or "\uff1f" in p or "\u00bf" in p]
    counts["question_mark"] = len(prompts)
    print("question_mark", len(prompts))
    prompts = [p for p in prompts if words(p) >= 5]
    counts["min_words"] = len(prompts)
    print("min_words", len(prompts))
    seen, kept = set(), []
    for p in prompts:
        k = normalise(p)
        if k not in seen:
            seen.add(k)
            kept.append(p)
    counts["duplicate_normalized_text"] = len(kept)
    print("duplicate_normalized_text", len(kept))
    seen, kept2 = set(), []
    for p in kept:
        k = " ".join(sorted(set(normalise(p).split())))
        if k not in seen:
            seen.add(k)
            kept2.append(p)
    counts["duplicate_token_set"] = len(kept2)
    print("duplicate_token_set", len(kept2))
    return check(counts, a.expect) if a.expect else 0


def check(counts, report_path) -> int:
    """The C# report's counts against ours: 0 when all match, else 3 with what differs."""
    filters = json.load(open(report_path, encoding="utf-8")).get("filters") or []
    theirs = {f["filter"]: f["after"] for f in filters}
    if filters:
        theirs["source"] = filters[0]["before"]
    problems = [f"{name}: C# {theirs[name] if name in theirs else 'has no such count'}, Python {n}"
                for name, n in counts.items() if theirs.get(name) != n]
    if problems:
        print(f"filter_counts.py: {report_path} did not filter the same prompts as this re-implementation:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 3
    print(f"same counts as {report_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
