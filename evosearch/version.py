"""The evosearch version (one place; ``evosearch.__version__`` re-exports it)."""

__version__ = "0.2.0"
