"""PharmaCRM: customer management for pharmaceutical companies selling in China."""
