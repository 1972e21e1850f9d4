"""Derives BFI-2 domain means/SDs by sex from the facet-level norms in bfi2-facet-norms.csv.

A BFI-2 domain score is the mean of its 12 items, i.e. the mean of its three 4-item facets, so
the domain mean is exactly the mean of the facet means. The domain SD is not published in the
transcription we have, so it is reconstructed from the facet SDs and the within-domain facet
correlations: Var(D) = (1/9) * sum_i sum_j r_ij s_i s_j. Run: python3 derive_bfi2_domains.py
"""
import csv, math, os

here = os.path.dirname(os.path.abspath(__file__))
DOMAINS = {
    "extraversion": ["Sociability", "Assertiveness", "Energy Level"],
    "agreeableness": ["Compassion", "Respectfulness", "Trust"],
    "conscientiousness": ["Organization", "Productiveness", "Responsibility"],
    "neuroticism": ["Anxiety", "Depression", "Emotional Volatility"],
    "openness": ["Intellectual Curiosity", "Aesthetic Sensitivity", "Creative Imagination"],
}
# Within-domain facet correlations, Soto & John (2017) Table 3 (Internet sample), same transcription.
R = {
    ("Sociability", "Assertiveness"): .54, ("Sociability", "Energy Level"): .59, ("Assertiveness", "Energy Level"): .48,
    ("Compassion", "Respectfulness"): .58, ("Compassion", "Trust"): .48, ("Respectfulness", "Trust"): .50,
    ("Organization", "Productiveness"): .60, ("Organization", "Responsibility"): .52, ("Productiveness", "Responsibility"): .60,
    ("Anxiety", "Depression"): .64, ("Anxiety", "Emotional Volatility"): .65, ("Depression", "Emotional Volatility"): .59,
    ("Intellectual Curiosity", "Aesthetic Sensitivity"): .49, ("Intellectual Curiosity", "Creative Imagination"): .48,
    ("Aesthetic Sensitivity", "Creative Imagination"): .44,
}

def r(a, b):
    return 1.0 if a == b else R.get((a, b), R.get((b, a)))

facets = {}
with open(os.path.join(here, "bfi2-facet-norms.csv")) as f:
    rows = [l for l in f if not l.startswith("#")]
for row in csv.DictReader(rows):
    facets[(row["facet"], row["sex"])] = (float(row["mean"]), float(row["sd"]))

print("trait,sex,mean,sd")
for trait, fs in DOMAINS.items():
    for sex in ("male", "female"):
        m = sum(facets[(x, sex)][0] for x in fs) / 3
        var = sum(r(a, b) * facets[(a, sex)][1] * facets[(b, sex)][1] for a in fs for b in fs) / 9
        print(f"{trait},{sex},{m:.3f},{math.sqrt(var):.3f}")
