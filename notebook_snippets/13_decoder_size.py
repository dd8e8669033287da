# Notebook 13_weclip_overview.ipynb: code cell, insert after the markdown cell 13_decoder_size.md
# (itself after cell 5). Builds the small-decoder model on the notebook's CLIP (no training).
from clipwsss.methods.weclip.train import toy_small_config

small_model = WeClip(S.clip, S.vocab, toy_small_config(n_classes=model_config.n_classes))
clip_params = sum(p.numel() for p in S.clip.model.parameters())
sizes = pd.DataFrame({
    "trainable decoder": [model.trainable_parameters(), small_model.trainable_parameters()],
    "frozen CLIP": [clip_params, clip_params],
}, index=[f"{S.profile.name} recipe (width {model.config.embed_dim})",
          f"toy_small_config (width {small_model.config.embed_dim})"])  # fmt: skip
sizes["decoder / CLIP (%)"] = (100 * sizes["trainable decoder"] / sizes["frozen CLIP"]).round(1)
display(sizes)
