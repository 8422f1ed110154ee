"""Subject-independent protocols, pooled metrics and the run's reports."""
