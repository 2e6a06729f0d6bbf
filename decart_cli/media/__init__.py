"""Frame sources, sinks and the plumbing between them."""
