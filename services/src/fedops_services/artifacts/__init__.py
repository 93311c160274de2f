"""Where XAI artifact bytes are kept, and what counts as an acceptable image."""

from fedops_services.artifacts.sniff import sniff_image_type
from fedops_services.artifacts.store import ArtifactStore, FilesystemArtifactStore

__all__ = ["ArtifactStore", "FilesystemArtifactStore", "sniff_image_type"]
