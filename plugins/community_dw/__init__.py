"""community-dw: a community data warehouse fed by department deliveries."""

__version__ = "0.1.0"
