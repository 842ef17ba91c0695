"""capstan_volumes: the reference application built on capstan.

File-backed volumes placed on worker hosts by a scheduler. Everything the
framework needs to run it is declared in :mod:`capstan_volumes.application`;
this package imports only the framework's public modules.
"""
