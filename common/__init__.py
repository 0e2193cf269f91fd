"""What the hub and the node share: wire protocol, watch list, settings."""

__version__ = "0.1.0"
