"""Layer 1: file formats (the official CAM ``.npy`` files, ``run.json`` provenance, logs)."""
