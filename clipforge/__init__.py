"""clipforge: turn long videos into short, self-contained clips."""

__version__ = "0.1.0"
