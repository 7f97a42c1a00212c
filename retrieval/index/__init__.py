"""Where vectors live: the FAISS index, the embedding cache, and the indexer that fills both."""
