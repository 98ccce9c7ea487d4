"""``rag mcp``: the index as tools for assistants, over the Model Context Protocol.

Inside this package ``import mcp`` is the SDK (imports are absolute), never this package.
"""
