"""The FL server runtime: what a provisioner runs for one task."""
