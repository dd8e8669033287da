# Notebook 05_synonym_fusion.ipynb: code cell, insert after the markdown cell 05_synonyms.md
# (itself after cell 24, the Reading). Reads results/toy/synonym_cosines.csv and
# crane_cooccurrence.csv, written by `python scripts/toy_text_claims.py` (shipped micro-CLIP,
# prompt "a clean origami {}.", 2000 scenes of the toy val generator, seed 0).
from clipwsss.experiments import toy_claims as tc

if S.profile.name != "toy" or "crane" not in S.dataset.class_names:
    print("Stored for the toy profile only (its crane class and tower-crane distractor).")
else:
    cos = tc.read_toy_result("synonym_cosines.csv").set_index("prompt word")
    co = tc.read_toy_result("crane_cooccurrence.csv").iloc[0]
    display(cos.round(2))
    display(co.to_frame("toy val scenes (seed 0)"))
    syn_min = min(cos.loc["crane", "bird"], cos.loc["crane", "wading bird"])
    nbk.reading(f"""
**The toy world cannot show synonym disambiguation, by construction.** In {co["scenes"]} scenes of
the val generator the tower crane is drawn in {co["with distractor"]} and the crane class is present
in {co["with class"]}, but both in {co["with both"]}: the world's rule
(`clipwsss.toy.world`: a tower crane only where there is no crane) means no scored crane CAM
ever has a tower crane to take. And the micro-CLIP puts "crane" at cosine
{syn_min:.2f} or more to "bird" and "wading bird" (prompt "a clean origami {{}}."), one point, so
the synonym sentence cannot change what "crane" means: it is {cos.loc["crane", "tower crane"]:.2f}
from "tower crane" with the name alone, already on the bird side. The crane IoU is therefore the
same with and without synonyms ({t8.loc["crane", "name only"]:.1f} → {t8.loc["crane", "synonyms, sentence"]:.1f});
this notebook's crane row is no evidence for or against the paper's Table 8. A world that
could show it would draw tower cranes beside cranes and train a CLIP whose "crane" alone sits
between the bird and the machine.""")
