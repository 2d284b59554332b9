"""Research tools around the product: the benchmark and its plots, the prequential code, sources of
known entropy, the corpus registry, and the lumping experiments. The product never imports them
(the CLI's `bench` command loads them when it runs); they use the product freely."""
