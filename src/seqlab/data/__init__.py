"""Data: reading text, vocabularies and tokenizers, batching for truncated BPTT."""
