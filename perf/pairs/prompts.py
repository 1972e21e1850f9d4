"""The 8,011 PRISM opening prompts as a question CSV with a seeded 3,000 / 868 train / held-out split
among those with a question mark and at least five words (the curation's cheap filters), for the pairs benchmark."""
import csv, hashlib, json, os, sys

src, out = sys.argv[1], sys.argv[2]
path = os.path.join(src, "prism_opening_prompts.json")
data = json.load(open(path))
texts = [d if isinstance(d, str) else d.get("opening_prompt") or d.get("text") for d in data]
kept, seen = [], set()
for t in texts:
    t = (t or "").strip()
    if "?" in t and len(t.split()) >= 5 and t.lower() not in seen:
        seen.add(t.lower()); kept.append(t)
kept.sort(key=lambda t: hashlib.sha256(t.encode()).hexdigest())
kept = kept[:3868]
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "question", "split"])
    for i, t in enumerate(kept):
        w.writerow([f"q{i:04d}", t, "train" if i < 3000 else "held_out"])
print(f"{len(kept)} prompts ({min(3000, len(kept))} train)", file=sys.stderr)
