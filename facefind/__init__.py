"""facefind: find your photos in an album zip by face or by words."""

__version__ = "0.2.0"
