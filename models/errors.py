"""The model's error type, importable without scikit-learn (the CLI catches it for every command)."""


class ModelError(ValueError):
    """A model artifact that is missing, unreadable, untrusted or made for other features."""
