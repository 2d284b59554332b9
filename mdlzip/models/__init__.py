"""The transformer: what an archive stores of it (stored, no torch), the float model that trains
(transformer), its integer-exact inference (exact) and neuron lumping (lump)."""
