"""Where XAI artifact bytes are kept, and what counts as an acceptable image."""

from fedops_services.artifacts.files import ArtifactDirectory, ArtifactFiles
from fedops_services.artifacts.sniff import sniff_image_type

# issue 9: the old names, kept for registry/tasks.py and container.py until the reconciler
# split lands (then: ArtifactFiles and ArtifactDirectory there, and these two lines go).
ArtifactStore = ArtifactFiles
FilesystemArtifactStore = ArtifactDirectory

__all__ = [
    "ArtifactDirectory",
    "ArtifactFiles",
    "ArtifactStore",
    "FilesystemArtifactStore",
    "sniff_image_type",
]
