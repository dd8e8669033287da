"""Layer 4: data-set loops (CAM files, pseudo masks, evaluation): progress, resume, sharding."""
