"""The volume's errors, subclasses of the framework's domain exceptions,
so that the API's fault filter maps them (404, 409) with no code of ours."""
from __future__ import annotations

from capstan.common.exception import Conflict, NotFound


class VolumeNotFound(NotFound):
    msg_fmt = "Volume %(volume_id)s could not be found."


class InvalidVolumeStatus(Conflict):
    msg_fmt = ("Volume %(volume_id)s is %(status)s; this needs one of "
               "%(expected)s.")
