"""Monitoring: report ingest, round queries, XAI artifacts."""
