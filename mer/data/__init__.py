"""Generic data machinery: annotations, key-frame sampling, frame sources, clip datasets."""
