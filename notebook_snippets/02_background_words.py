# Notebook 02_softmax_background.ipynb: code cell, insert after the markdown cell
# 02_background_words.md (itself after cell 13). Reads results/toy/background_words_per_class.csv
# and background_word_cosines.csv, written by `python scripts/toy_text_claims.py` (shipped
# micro-CLIP, toy val seed 0, 200 images, initial CAMs, background (1 - max)^1).
from clipwsss.experiments import toy_claims as tc

if S.profile.name != "toy":
    print("Stored for the toy profile only; clipwsss.experiments.toy_claims.class_differences "
          "computes the same view on any profile.")
else:
    per_class = tc.read_toy_result("background_words_per_class.csv")
    near = tc.read_toy_result("background_word_cosines.csv").set_index("unrelated word")
    runs = ["classes only", "class-related set", "unrelated set", "known unrelated set"]
    diffs = ["class-related set - classes only", "unrelated set - classes only",
             "known unrelated set - classes only", "class-related set - unrelated set"]
    view = tc.class_view(per_class, runs, diffs, classes=["background", *detail, *[
        c for c in S.dataset.class_names if c not in detail]])
    display(view)

    def d(cls, row):
        r = per_class[(per_class["class"] == cls) & (per_class["row"] == row)].iloc[0]
        return iv.Interval(float(r["IoU"]), float(r["95% low"]), float(r["95% high"]))

    built = [c for c in ("boat", "train", "aeroplane") if c in S.dataset.class_names]
    unseen = near[near["set"] == "unrelated set"]
    known = near[near["set"] == "known unrelated set"]
    hub = unseen["nearest background word"].mode().iloc[0]
    nbk.reading(f"""
**What the toy shows about class-related background words.** Per class, the unrelated words
give the same gain over "classes only" as the class-related set, and on the classes the world
was built to need background words they do at least as well: class-related minus unrelated is
{"; ".join(f"{c} {d(c, 'class-related set - unrelated set').text()}" for c in built)}. The
reason is the micro-CLIP, not CLIP-ES: every unrelated word lands next to one background word,
"{hub}" (cosine {unseen["cosine to it"].min():.2f}-{unseen["cosine to it"].max():.2f}; "{hub}"
is itself at 0.5-0.9 to every toy background word), and so do the caption words that name no
background ({", ".join(f'"{w}"' for w in known.index)}: {known["cosine to it"].min():.2f} or
more to "{hub}"). To this model any prompt
that names no object class is a generic background text, and that text gives the gain
(caption words minus classes only:
{"; ".join(f"{c} {d(c, 'known unrelated set - classes only').text()}" for c in built)}). So
the toy shows that background texts competing in the softmax suppress the co-occurring stuff
(Eq. 3-4); it cannot show that the words must be *class-related*, and the boat gain above
({d("boat", "class-related set - classes only").text()}) is not evidence for class-related
words. We have not measured why the unrelated words do better than the class-related set on
aeroplane and boat.""")
