"""``rag serve``: the HTTP API under /api, the OpenAI-compatible /v1 and the web page.

Importing this package loads no web framework; ``app.serve.server`` does.
"""
