"""Volume drivers, loaded by entry point (capstan.volume.drivers) or path."""
