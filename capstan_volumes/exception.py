"""The volume's errors, subclasses of the framework's domain exceptions,
so that the API's fault filter maps them (404) with no code of ours. A
status that forbids an operation is the framework's InvalidStatus (409)."""
from __future__ import annotations

from capstan.common.exception import NotFound


class VolumeNotFound(NotFound):
    msg_fmt = "Volume %(volume_id)s could not be found."

