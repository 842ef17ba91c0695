"""The volume application's scheduler: places volumes on volume hosts."""
