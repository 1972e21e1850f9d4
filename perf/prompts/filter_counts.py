#!/usr/bin/env python3
"""Independent re-implementation of the cheap prompt filters (question mark, >= 5 words,
duplicates by normalised text, then by token set), used to cross-check the C# counts that
tests/Persona.Core.Tests/Prompts/PromptCuratorTests.cs asserts on the bundled PRISM prompts.

Usage: python3 perf/prompts/filter_counts.py [data/prism/prism_opening_prompts.json]
"""
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


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "data/prism/prism_opening_prompts.json"
    prompts = json.load(open(path, encoding="utf-8"))
    print("source", len(prompts))
    prompts = [p for p in prompts if "?" in p or "\uff1f" in p or "\u00bf" in p]
    print("question_mark", len(prompts))
    prompts = [p for p in prompts if words(p) >= 5]
    print("min_words", len(prompts))
    seen, kept = set(), []
    for p in prompts:
        k = normalise(p)
        if k not in seen:
            seen.add(k)
            kept.append(p)
    print("duplicate_normalized_text", len(kept))
    seen, kept2 = set(), []
    for p in kept:
        k = " ".join(sorted(set(normalise(p).split())))
        if k not in seen:
            seen.add(k)
            kept2.append(p)
    print("duplicate_token_set", len(kept2))


if __name__ == "__main__":
    main()
