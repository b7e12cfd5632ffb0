"""metamat: learn a new materials property from a handful of measurements."""

__version__ = "0.1.0"
