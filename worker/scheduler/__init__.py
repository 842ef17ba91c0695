"""The scheduler: places volumes on volume workers."""
