"""Dataset-specific sources mapped onto the one :class:`mer.data.annotations.Sample` record."""
