"""pandian: evaluate, compare and choose Chinese large language models."""

__version__ = "0.1.0"
