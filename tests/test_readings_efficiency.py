"""The reading of 09 words a faster and a slower batched backward apart and says when the
timing of record comes from random weights."""

from clipwsss.experiments.readings import efficiency


def _flat(text: str) -> str:
    """The paragraph as nbk.reading renders it (lines joined)."""
    return " ".join(text.split())


def _text(speedup, random_weights):
    return _flat(
        efficiency.reading(
            cpu="cpu",
            threads=1,
            record_name="ViT-B/16 (random weights)",
            forward_s=1.72,
            inference_h=5.6,
            random_weights=random_weights,
            n_images=3,
            caa_share=0.9,
            speedup=speedup,
            batched_s=0.169,
            loop_s=0.292,
            mean_k=1.33,
            crf_s=0.7,
            paper_crf_s=1.36,
            memory_gb=1.85,
            memory_kind="process RSS",
        )
    )


def test_speed_words_and_weights():
    assert efficiency.speed_words(1.726) == "1.73x as fast as"
    assert efficiency.speed_words(0.8) == "1.25x slower than"
    text = _text(1.726, True)
    assert "1.73x as fast as the official per-class loop" in text
    assert "random weights on 3 images" in text
    assert "random weights" not in _text(0.8, False).split("comes from")[1][:20]
