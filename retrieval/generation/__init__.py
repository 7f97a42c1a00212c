"""A generated answer with citations, from an OpenAI-compatible endpoint (optional)."""
