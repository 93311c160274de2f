"""fedops: SDK of the fedops federated-learning operations platform."""

__version__ = "0.1.0"
