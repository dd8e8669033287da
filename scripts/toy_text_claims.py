"""What the toy world shows of two CLIP-ES text claims: synonyms, and class-related background.

    python scripts/toy_text_claims.py [--out results/toy]

Writes to ``--out``:
* ``synonym_cosines.csv``: cosine of the micro-CLIP's prompt embeddings ("a clean origami
  {}.") of the crane's words, "tower crane", and the sentence-level synonym prompt;
* ``crane_cooccurrence.csv``: in how many of 2000 toy scenes (val generator, seed 0) the
  unlabelled tower crane is drawn, the crane class is present, and both;
* ``background_words_per_class.csv``: initial-CAM IoU per class (toy val, seed 0, 200 images)
  with the class-related background set (the profile's, notebook 02/18), an unrelated set
  (notebook 18's, words the micro-CLIP never saw in a caption), a known unrelated set (caption
  words that name no background: "photo", "drawing", ...), VOC's official set, and no
  background words (all classes in the softmax, notebook 02's "classes only"), with paired
  per-class image-bootstrap intervals;
* ``background_word_cosines.csv``: cosine of each word of the two unrelated sets to its nearest
  toy background word and to its nearest toy class word (what they mean to the micro-CLIP).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
UNRELATED = ["keyboard", "helmet", "sign", "bridge", "valley", "mountain"]  # notebook 18's
# Caption prefix words the micro-CLIP was trained on that name no background and no class
# (not "two": plural captions put it near the animals, e.g. "two ponies")
KNOWN_UNRELATED = ["photo", "picture", "drawing", "rendering", "image"]
CRANE_WORDS = ["crane", "bird", "wading bird", "tower crane", "construction crane"]
RUNS = {  # name -> (background words, text_set)
    "class-related set": ("profile", "image"),
    "unrelated set": ("unrelated", "image"),
    "known unrelated set": ("known", "image"),
    "VOC official set": ("voc", "image"),
    "classes only": ("none", "dataset"),
}
PAIRS = [
    ("class-related set", "classes only"),
    ("unrelated set", "classes only"),
    ("class-related set", "unrelated set"),
    ("VOC official set", "unrelated set"),
    ("known unrelated set", "classes only"),
    ("class-related set", "known unrelated set"),
]


def main(argv=None) -> int:
    import clipwsss.experiments.notebooks as nbk
    from clipwsss.experiments import toy_claims as tc
    from clipwsss.methods.clip_es import ClipES
    from clipwsss.toy.world import TOY_SYNONYMS
    from clipwsss.vocab import VOC_BACKGROUND

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(ROOT / "results" / "toy"))
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    S = nbk.setup("toy", seed=0)
    crane_sentence = S.vocab.sentences[S.vocab.index("crane")]
    cos = tc.text_cosines(S.clip, [*CRANE_WORDS, crane_sentence], CRANE_WORDS)
    cos.rename_axis("prompt word").round(4).to_csv(out / "synonym_cosines.csv")
    co = tc.distractor_cooccurrence(2000, seed=0)
    pd.DataFrame([co]).to_csv(out / "crane_cooccurrence.csv", index=False)

    words = {
        "profile": S.vocab.background,
        "unrelated": UNRELATED,
        "voc": VOC_BACKGROUND,
        "known": KNOWN_UNRELATED,
        "none": (),
    }
    cfg = replace(S.profile.clip_es, refine="none")
    res = {}
    for name, (key, text_set) in RUNS.items():
        vocab = S.vocab.with_background(tuple(words[key]))
        es = ClipES(S.clip, vocab, replace(cfg, text_set=text_set))
        res[name] = nbk.score_cams(es, S.dataset, S.ids).image_hists("initial")
    table = tc.class_differences(res, S.dataset.class_names, PAIRS)
    table.round(3).to_csv(out / "background_words_per_class.csv")

    class_words = [w for ws in TOY_SYNONYMS.values() for w in ws]
    both = [*UNRELATED, *KNOWN_UNRELATED]
    to_bg = tc.text_cosines(S.clip, both, list(S.vocab.background))
    to_cls = tc.text_cosines(S.clip, both, class_words)
    near = pd.DataFrame(
        {
            "set": ["unrelated set"] * len(UNRELATED)
            + ["known unrelated set"] * len(KNOWN_UNRELATED),
            "nearest background word": to_bg.idxmax(axis=1),
            "cosine to it": to_bg.max(axis=1),
            "nearest class word": to_cls.idxmax(axis=1),
            "cosine to the class word": to_cls.max(axis=1),
        }
    ).rename_axis("unrelated word")
    near.round(4).to_csv(out / "background_word_cosines.csv")
    print(
        f"wrote synonym_cosines.csv, crane_cooccurrence.csv, background_words_per_class.csv, "
        f"background_word_cosines.csv to {out} in {time.time() - t0:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
