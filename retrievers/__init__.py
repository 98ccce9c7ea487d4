"""Vector store persistence and retrievers; no settings or environment are read here."""
