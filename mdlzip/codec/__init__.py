"""Entropy coding: how the bytes are cut (layout), the adaptive statistics alone or mixed with the
model (mixer, cm_kernel in C, mixed), range coding under the model alone (arith), and the sparse
weight codes (weights)."""
