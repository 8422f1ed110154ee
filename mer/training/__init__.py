"""Training loops and device handling."""
