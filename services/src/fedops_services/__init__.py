"""fedops services: registry and monitoring APIs, database layer, provisioners."""

__version__ = "0.1.0"
