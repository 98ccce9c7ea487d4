"""The PostgreSQL + pgvector store: schema and migrations, the store, the hybrid SQL search."""
