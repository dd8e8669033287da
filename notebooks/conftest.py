"""nbval collects every notebook here (``pytest notebooks --nbval-lax``, ``make test``).

Notebooks that need real CLIP weights are left out: the repository cannot ship the weights,
so nbval could only re-run their "no weights" stop, and with network access the default
``pretrained="openai"`` would download ViT-B/16 inside CI. They are committed unexecuted;
``tests/test_real_photos_notebook.py`` runs them with papermill both without weights (they
stop with what to download) and with the random small CLIP of the fidelity kit.
"""

from clipwsss.experiments.photos import REAL_WEIGHTS_NOTEBOOKS

collect_ignore = [f"{name}.ipynb" for name in sorted(REAL_WEIGHTS_NOTEBOOKS)]
