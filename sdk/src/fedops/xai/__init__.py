"""Explanations of image classifiers (Grad-CAM family) generated on the clients."""

from fedops.xai.gradcam import Explanation, confidence_kept, explain_classes, resolve_target_layer

__all__ = ["Explanation", "confidence_kept", "explain_classes", "resolve_target_layer"]
