"""One router per resource: answers, the index's catalog, ingest, OpenAI's chat API, the page."""
