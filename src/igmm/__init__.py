"""interacting-gmm."""
