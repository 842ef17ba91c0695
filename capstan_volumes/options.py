"""The volume application's options: registered by the framework from the
application's declaration, listed for the sample by ``list_opts`` (entry
point ``oslo.config.opts``: ``capstan_volumes``)."""
from __future__ import annotations

from oslo_config import cfg

default_opts = [
    cfg.StrOpt("volume_driver", default="file",
               help="Volume driver: an entry-point name of the "
                    "capstan.volume.drivers group (file, fake) or a dotted "
                    "path to a driver class."),
]

file_driver_opts = [
    cfg.StrOpt("pool_path", default="$state_path/volumes",
               help="Directory holding one sparse file per volume."),
    cfg.IntOpt("capacity_gb", default=0, min=0,
               help="Capacity reported to the scheduler, in GiB; 0 reports "
                    "the size of the file system holding pool_path."),
    cfg.FloatOpt("max_over_subscription_ratio", default=20.0, min=1.0,
                 help="How far the sum of volume sizes may exceed the "
                      "capacity, since sparse files use space only once "
                      "written."),
]

scheduler_opts = [
    cfg.IntOpt("max_attempts", default=3, min=0,
               help="How many times the scheduler re-sends a volume stuck "
                    "in 'creating' (a lost cast, a worker that never "
                    "answered, no valid host on a re-send) before it sets "
                    "the volume to 'error'. 0 never re-sends."),
    cfg.IntOpt("resend_after", default=60, min=1,
               help="Seconds a volume may stay in 'creating' without "
                    "progress before the scheduler re-sends it: placed "
                    "again if it has no host yet, cast again to its host "
                    "otherwise."),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """The application's options by group."""
    return [
        ("DEFAULT", default_opts),
        ("file_driver", file_driver_opts),
        ("scheduler", scheduler_opts),
    ]
