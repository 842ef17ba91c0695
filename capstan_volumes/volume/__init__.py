"""Volume workers: the manager and drivers behind ``worker --topic volume``."""
