"""Flow data models."""
