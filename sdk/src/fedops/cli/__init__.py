"""The ``fedops`` admin CLI."""
