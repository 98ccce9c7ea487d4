"""``rag tune``: adapt the embedding model to the user's own chunks, with no labels.

pairs (from the index's chunks) -> training (sentence-transformers, CPU, a time budget)
-> a local model folder with its card -> ONNX export -> the collection re-embedded.
"""
