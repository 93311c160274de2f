"""Where XAI artifact bytes are kept, and what counts as an acceptable image."""

from fedops_services.artifacts.files import ArtifactDirectory, ArtifactFiles
from fedops_services.artifacts.sniff import sniff_image_type

__all__ = [
    "ArtifactDirectory",
    "ArtifactFiles",
    "sniff_image_type",
]
