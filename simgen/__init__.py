"""simgen: scene config -> labelled synthetic dataset."""

__version__ = "0.1.0"
