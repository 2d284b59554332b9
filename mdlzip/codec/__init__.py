"""Entropy coding: the data under the exact model (arith) and the sparse weight codes (weights)."""
