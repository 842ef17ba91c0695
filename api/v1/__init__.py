"""Version 1 of the REST API: one controller module per resource.

Controllers get what they need through their constructors (see
api/router.py); green threads and monkey-patching are the entry points'
business, never a controller's.
"""
