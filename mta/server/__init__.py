"""The process layer: the composition root, the `scaisend` command line, the worker
supervisor and process plumbing. Nothing imports it."""
