"""decart: realtime AI video editing from the command line."""

__version__ = "0.1.0"
