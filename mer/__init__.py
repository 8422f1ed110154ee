"""mer: micro-expression recognition from video with honest leave-one-subject-out evaluation."""

__version__ = "0.1.0"
