"""Text side: sub-action corpora, text encoders, embedding folders, LLM generation."""
