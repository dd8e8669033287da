"""Layer 2: CAM steps as pure functions over tensors (GradCAM, CAA, dCRF, CGL, sharpness) and
``labels`` (min-max, upsampling, background score, CAMs -> label map)."""
