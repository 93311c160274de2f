"""The edge client: `fedops-client run`, the FLClientTask API, and what they are made of."""
