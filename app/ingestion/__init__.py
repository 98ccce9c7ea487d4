"""Ingestion: find and load files, parse their formats, split, plan and run an ingest."""
