"""The evaluation pipeline: questions -> databases -> execution -> comparison -> scoring -> output."""

__version__ = "0.1.0"
