"""Embedding, answer and reranking models: providers, llama.cpp, Ollama, ONNX, prompt styles."""
