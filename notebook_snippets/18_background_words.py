# Notebook 18_prompt_ablations.ipynb: code cell, insert after the markdown cell
# 18_background_words.md (itself after cell 9). Reads results/toy/background_words_per_class.csv
# and background_word_cosines.csv, written by `python scripts/toy_text_claims.py` (shipped
# micro-CLIP, toy val seed 0, 200 images, initial CAMs).
from clipwsss.experiments import toy_claims as tc

if S.profile.name != "toy":
    print("Stored for the toy profile only; clipwsss.experiments.toy_claims.class_differences "
          "computes the same view on any profile.")
else:
    per_class = tc.read_toy_result("background_words_per_class.csv")
    near = tc.read_toy_result("background_word_cosines.csv").set_index("unrelated word")
    runs = ["class-related set", "unrelated set", "known unrelated set", "VOC official set"]
    diffs = ["class-related set - unrelated set", "class-related set - known unrelated set",
             "VOC official set - unrelated set"]
    display(tc.class_view(per_class, runs, diffs))
    display(near.round(2))
    unseen = near[near["set"] == "unrelated set"]
    hub = unseen["nearest background word"].mode().iloc[0]
    diff = per_class[per_class["row"] == "class-related set - unrelated set"]
    real = diff[(diff["95% low"] > 0) | (diff["95% high"] < 0)]
    wins = [f"{r['class']} ({r['IoU']:+.1f})" for _, r in real.iterrows() if r["IoU"] > 0]
    losses = [f"{r['class']} ({r['IoU']:+.1f})" for _, r in real.iterrows() if r["IoU"] < 0]
    nbk.reading(f"""
Per class, the class-related set beats the unrelated words on {", ".join(wins) or "no class"}
and loses on {", ".join(losses) or "no class"} (points, intervals excluding zero); every other
class is within the image noise. Each unrelated word sits at cosine
{unseen["cosine to it"].min():.2f}-{unseen["cosine to it"].max():.2f} to one toy background word,
"{hub}", and so do the caption words that name no background: the micro-CLIP embeds any prompt
that names no object class as one generic background text. On the toy world "unrelated" words
are therefore not unrelated to the model, and this notebook cannot test whether CLIP-ES's
background set must be class-related (supp. G); it shows only that background texts in the
softmax help.""")
