"""Tests for clipwsss.clip.text and clipwsss.vocab: vocabularies, synonyms, background sets,
prompts and the three synonym-fusion levels (CLIP-ES Sections 3.1, 3.2, supplementary B and G)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

import clipwsss as cw
from clipwsss.cams.labels import min_max_normalize
from clipwsss.clip.text import (
    background_text_features,
    class_text_features,
    encode_texts,
    synonym_text_features,
)
from clipwsss.methods.clip_es import ClipEsConfig
from clipwsss.vocab import (
    CLIP_ES_TEMPLATE,
    COCO_BACKGROUND,
    VOC_BACKGROUND,
    coco_vocabulary,
    imagenet_templates,
    load_vocabulary,
    make_vocabulary,
    voc_vocabulary,
)

# Supplementary G, in the order of the official code.
SUPP_G_VOC = (
    "ground land grass tree building wall sky lake water river sea railway railroad keyboard "
    "helmet cloud house mountain ocean road rock street valley bridge sign"
).split()


# --------------------------------------------------------------------------- fixed lists


def test_template_is_the_clip_es_prompt():
    assert CLIP_ES_TEMPLATE == "a clean origami {}."


def test_voc_vocabulary_official_sentences():
    vocab = voc_vocabulary()
    assert len(vocab) == 20 and vocab.names == cw.data.VOC_CLASSES
    sentences = dict(zip(vocab.names, vocab.sentences, strict=True))
    assert sentences["person"] == "person with clothes,people,human"
    assert sentences["bird"] == "bird avian"
    assert sentences["chair"] == "chair seat"
    assert sentences["tvmonitor"] == "tvmonitor screen"
    changed = {n for n, s in sentences.items() if s != n}
    assert changed == {"person", "bird", "chair", "tvmonitor"}
    assert sentences["diningtable"] == "diningtable" and sentences["pottedplant"] == "pottedplant"
    synonyms = dict(zip(vocab.names, vocab.synonyms, strict=True))
    assert synonyms["person"] == ("person with clothes", "people", "human")
    assert synonyms["bird"] == ("bird", "avian") and synonyms["cat"] == ("cat",)
    assert vocab.index("person") == 14 and vocab.index("cat") == 7


def test_background_sets_supplementary_g():
    assert list(VOC_BACKGROUND) == SUPP_G_VOC and len(VOC_BACKGROUND) == 25
    assert list(COCO_BACKGROUND) == [w for w in SUPP_G_VOC if w not in ("keyboard", "sign")]
    assert len(COCO_BACKGROUND) == 23
    assert voc_vocabulary().background == VOC_BACKGROUND
    assert coco_vocabulary().background == COCO_BACKGROUND


def test_coco_vocabulary_substitutions_and_typo():
    vocab = coco_vocabulary()
    assert len(vocab) == 80 and vocab.names == cw.data.COCO_CLASSES
    sentences = dict(zip(vocab.names, vocab.sentences, strict=True))
    expected = {
        "person": "person with clothes,people,human",
        "bird": "bird avian",
        "chair": "chair seat",
        "tvmonitor": "tvmonitor screen",
        "backpack": "backpack,bag",
        "umbrella": "umbrella,parasol",
        "handbag": "handbag,purse",
        "tie": "necktie",
        "snowboard": "sknowboard",  # sic, official
        "baseball glove": "glove",
        "spoon": "dessertspoon",
        "remote": "remote control",
        "hair drier": "hairdrier,blowdrier",
    }
    assert {n: s for n, s in sentences.items() if s != n} == expected
    for name in ("motorbike", "aeroplane", "sofa", "pottedplant", "diningtable", "tvmonitor"):
        assert name in vocab.names  # VOC-style names
    fixed = coco_vocabulary(fix_typos=True)
    assert fixed.sentences[fixed.index("snowboard")] == "snowboard"
    assert fixed.synonyms[fixed.index("snowboard")] == ("snowboard",)
    assert dict(zip(vocab.names, vocab.synonyms, strict=True))["hair drier"] == (
        "hairdrier",
        "blowdrier",
    )


def test_imagenet_templates():
    templates = imagenet_templates()
    assert len(templates) == 80 and len(set(templates)) == 80
    assert all(t.count("{}") == 1 for t in templates)
    assert "a bad photo of a {}." in templates
    assert templates[0].format("cat") != templates[0]


# --------------------------------------------------------------------------- user vocabularies


def test_make_vocabulary_from_list():
    vocab = make_vocabulary(["cat", "dog"], background=["sky"])
    assert vocab.names == ("cat", "dog")
    assert vocab.synonyms == (("cat",), ("dog",))
    assert vocab.sentences == ("cat", "dog") and vocab.background == ("sky",)


def test_make_vocabulary_from_dict_with_list_comma_string_and_none():
    vocab = make_vocabulary(
        {"cat": ["cat", "kitty"], "person": "person with clothes, people,human", "dog": None},
        sentences={"cat": "cat or kitty"},
    )
    assert vocab.names == ("cat", "person", "dog")
    assert vocab.synonyms == (
        ("cat", "kitty"),
        ("person with clothes", "people", "human"),
        ("dog",),
    )
    assert vocab.sentences == ("cat or kitty", "person with clothes,people,human", "dog")


def test_make_vocabulary_from_a_comma_string_of_names():
    vocab = make_vocabulary("cat, dog ,person with clothes")
    assert vocab.names == ("cat", "dog", "person with clothes")
    assert vocab.synonyms == (("cat",), ("dog",), ("person with clothes",))


def test_make_vocabulary_errors():
    with pytest.raises(ValueError, match="duplicate"):
        make_vocabulary(["cat", "dog", "cat"])
    with pytest.raises(ValueError):
        make_vocabulary([])
    with pytest.raises(ValueError):
        make_vocabulary(["cat", " "])
    with pytest.raises(KeyError):
        make_vocabulary(["cat"], sentences={"dog": "a dog"})


def test_unknown_class_name_lists_known_names():
    vocab = make_vocabulary(["cat", "dog"])
    with pytest.raises(KeyError) as info:
        vocab.index("horse")
    assert "horse" in str(info.value) and "cat" in str(info.value) and "dog" in str(info.value)


def test_load_vocabulary_yaml(tmp_path):
    path = tmp_path / "classes.yaml"
    path.write_text(
        "classes:\n"
        "  cat: [cat, kitty]\n"
        "  person: [person with clothes, people, human]\n"
        "  dog:\n"
        "background: [grass, sky, wall]\n"
    )
    vocab = load_vocabulary(path)
    assert vocab.names == ("cat", "person", "dog")
    assert vocab.synonyms[1] == ("person with clothes", "people", "human")
    assert vocab.synonyms[2] == ("dog",)
    assert vocab.background == ("grass", "sky", "wall")
    listed = tmp_path / "list.yml"
    listed.write_text("classes: [boat, train]\n")
    assert load_vocabulary(listed).names == ("boat", "train")
    assert load_vocabulary(listed).background == ()


def test_load_vocabulary_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_vocabulary(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("names: [cat]\n")
    with pytest.raises(ValueError, match="classes"):
        load_vocabulary(bad)
    dup = tmp_path / "dup.yaml"
    dup.write_text("classes: [cat, cat]\n")
    with pytest.raises(ValueError):
        load_vocabulary(dup)


def test_without_synonyms_and_with_background():
    vocab = voc_vocabulary()
    plain = vocab.without_synonyms()
    assert plain.sentences == plain.names == vocab.names
    assert all(s == (n,) for n, s in zip(plain.names, plain.synonyms, strict=True))
    assert vocab.with_background(()).background == () and vocab.background == VOC_BACKGROUND


# --------------------------------------------------------------------------- text embeddings


def _encode_by_hand(clip, texts):
    with torch.no_grad():
        return F.normalize(clip.model.encode_text(clip.tokenizer(texts)).float(), dim=-1)


def test_sentence_level_encodes_the_sentence(tiny_vit):
    vocab = voc_vocabulary()
    feats = class_text_features(tiny_vit, vocab)
    assert feats.shape == (20, 32)
    assert_close(feats.norm(dim=-1), torch.ones(20))
    person = _encode_by_hand(tiny_vit, ["a clean origami person with clothes,people,human."])
    assert_close(feats[14:15], person)
    assert_close(
        feats, _encode_by_hand(tiny_vit, [f"a clean origami {s}." for s in vocab.sentences])
    )


def test_feature_level_is_normalised_mean_of_synonym_embeddings(tiny_vit):
    vocab = voc_vocabulary()
    feats = class_text_features(tiny_vit, vocab, fusion="feature")
    for c in (2, 7, 14):  # bird (2 synonyms), cat (1), person (3)
        per_syn = encode_texts(tiny_vit, [CLIP_ES_TEMPLATE.format(w) for w in vocab.synonyms[c]])
        assert_close(feats[c], F.normalize(per_syn.mean(0), dim=-1))
    per_class = synonym_text_features(tiny_vit, vocab)
    assert [f.shape[0] for f in per_class][14] == 3
    assert not torch.allclose(feats, class_text_features(tiny_vit, vocab))  # differs from sentence
    with pytest.raises(ValueError):
        class_text_features(tiny_vit, vocab, fusion="cam")


def test_encode_texts_and_background(tiny_vit):
    assert encode_texts(tiny_vit, []).shape == (0, 32)
    bg = background_text_features(tiny_vit, voc_vocabulary())
    assert bg.shape == (25, 32)
    assert_close(bg[0:1], _encode_by_hand(tiny_vit, ["a clean origami ground."]))
    assert background_text_features(tiny_vit, make_vocabulary(["cat"])).shape == (0, 32)
    batched = encode_texts(tiny_vit, ["a", "b c", "d e f"], batch_size=2)
    assert_close(batched, _encode_by_hand(tiny_vit, ["a", "b c", "d e f"]))


def test_cam_level_fusion_is_mean_of_per_synonym_cams(tiny_vit):
    synonyms = {"cat": ["cat", "kitty", "kitten"], "dog": ["dog", "puppy"], "car": ["car"]}
    vocab = make_vocabulary(synonyms, background=["sky", "grass", "road"])
    image = np.random.default_rng(0).integers(0, 256, (72, 90, 3), dtype=np.uint8)
    labels = [0, 2, 1]
    base = dict(caa_layers=2, refine="none")
    fused = cw.ClipES(tiny_vit, vocab, ClipEsConfig(fusion="cam", **base))(image, labels)

    # Pass j: every class named by its j-th synonym (its last one once it has no more).
    n_syn = [len(synonyms[n]) for n in vocab.names]
    passes = []
    for j in range(max(n_syn)):
        single = make_vocabulary(
            {n: [s[min(j, len(s) - 1)]] for n, s in synonyms.items()}, background=vocab.background
        )
        passes.append(cw.ClipES(tiny_vit, single, ClipEsConfig(**base))(image, labels))
    expected, scores = [], []
    for i, c in enumerate(labels):
        own = passes[: n_syn[c]]  # only the class's own synonyms
        expected.append(torch.stack([p.cams[i] for p in own]).mean(0))
        scores.append(torch.stack([p.scores[i] for p in own]).mean())
    assert_close(fused.cams, min_max_normalize(torch.stack(expected)), rtol=0, atol=1e-5)
    assert_close(fused.scores, torch.stack(scores))
    sentence = cw.ClipES(tiny_vit, vocab, ClipEsConfig(**base))(image, labels)
    assert (sentence.cams - fused.cams).abs().max() > 1e-3
