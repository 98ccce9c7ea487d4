"""LCEL chains and prompts; they take objects (retriever, llm), never settings."""
