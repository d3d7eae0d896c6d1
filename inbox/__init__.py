"""inbox: a conversational omnichannel inbox."""

__version__ = "0.1.0"
