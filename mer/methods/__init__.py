"""Switchable training methods from the seeds, each off by default (``methods.<name>.enabled``).

:mod:`~mer.methods.model` wraps a backbone split into feature map, pooling and classifier
(:mod:`~mer.methods.parts`) and adds what the enabled switches need; with every switch off the
backbone trains unwrapped, exactly as without this package.
"""
