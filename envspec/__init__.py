"""envspec: a declarative env.yaml compiled into a reproducible GPU container."""

__version__ = "0.1.0"
