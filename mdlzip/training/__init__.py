"""Training the transformer on the input: configuration, the fit, sparsity methods, pruning, alpha."""
