"""The scheduler framework: HostManager, HostState, filter and weigher bases."""
