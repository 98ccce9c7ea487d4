"""The command line: typer commands, the chat REPL, terminal display and ``rag doctor``."""
