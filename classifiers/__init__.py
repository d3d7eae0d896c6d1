"""Embedding classifiers: the embedder, the intent router and triage."""
