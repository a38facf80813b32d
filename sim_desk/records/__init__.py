"""The domain and the encrypted store. Knows nothing of Qt or PDF."""
