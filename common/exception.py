"""capstan's domain exceptions.

They carry no HTTP status: the ``faultwrap`` filter of the API maps them to
responses, most specific first. An application subclasses them
(``NotFound``, ``Conflict``, ...) for its own resources, and the API maps
its errors the same way. The tree::

    CapstanError                 base; message built from ``msg_fmt``
     +-- NotFound                the named thing does not exist (or is not yours)
     |    +-- ServiceNotFound
     |    +-- AggregateNotFound
     +-- Invalid                 the request is malformed or out of range
     +-- Conflict                the thing exists but its state forbids this
     |    +-- InvalidStatus      a resource's status does not allow it (yet)
     |    +-- ServiceIsUp
     |    +-- CapacityExceeded
     |    +-- AggregateNameExists
     |    +-- AggregateHostExists
     |    +-- AggregateHostNotFound  (the host is not in it: a 409, not a 404)
     |    +-- AggregateZoneConflict
     |    +-- AggregateInUse
     |    +-- RPCVersionTooNew   a topic's services are too old for a message
     +-- NotAuthorized           no or wrong credentials
     +-- Forbidden               credentials fine, policy says no
     +-- ServiceUnavailable      a backend (database, broker) cannot be reached
     |    +-- Overloaded         too much in flight: retry after a while
     +-- NoValidHost             the scheduler found no host for a request
     +-- DriverNotFound          a driver name loads nothing
     +-- ManagerNotFound         a manager path loads nothing
     +-- PasteConfigError        the paste file (api-paste.ini) cannot be loaded
"""
from __future__ import annotations


class CapstanError(Exception):
    """Base of every capstan error; ``msg_fmt`` is filled from kwargs."""

    msg_fmt = "An unknown error occurred."

    def __init__(self, message: str | None = None, **kwargs) -> None:
        self.kwargs = kwargs
        if message is None:
            try:
                message = self.msg_fmt % kwargs
            except (KeyError, TypeError):
                # A wrong kwarg must not hide the original error.
                message = self.msg_fmt
        super().__init__(message)
        self.message = message


class NotFound(CapstanError):
    """Raised when the named resource does not exist; callers answer 404."""

    msg_fmt = "Resource could not be found."


class ServiceNotFound(NotFound):
    msg_fmt = "Service %(service_id)s could not be found."


class AggregateNotFound(NotFound):
    msg_fmt = "Aggregate %(aggregate_id)s could not be found."


class Invalid(CapstanError):
    """Raised for malformed or out-of-range input; callers answer 400."""

    msg_fmt = "Invalid input."


class Conflict(CapstanError):
    """Raised when the resource's current state forbids the operation."""

    msg_fmt = "The resource is in a state that does not allow this."


class InvalidStatus(Conflict):
    """A resource's status does not allow the operation (yet): the caller
    may wait for it to change, or give up."""

    msg_fmt = ("%(resource)s %(id)s is %(status)s; this needs one of "
               "%(expected)s.")


class ServiceIsUp(Conflict):
    msg_fmt = "Service %(service_id)s is up; stop it before deleting it."


class CapacityExceeded(Conflict):
    """Raised when a claim does not fit in a host's inventory.

    The claim's transaction must roll back; a scheduler tries its next-best
    host.
    """

    msg_fmt = ("%(host)s has no room for %(amount)s %(resource_class)s")


class AggregateNameExists(Conflict):
    msg_fmt = "An aggregate named %(name)r exists already."


class AggregateHostExists(Conflict):
    msg_fmt = "Host %(host)r is in aggregate %(aggregate_id)s already."


class AggregateHostNotFound(Conflict):
    """Raised when removing a host that is not in the aggregate.

    A Conflict, not a NotFound: the aggregate exists (the URL names it),
    the request does not fit its current hosts.
    """

    msg_fmt = "Host %(host)r is not in aggregate %(aggregate_id)s."


class AggregateZoneConflict(Conflict):
    """Raised when a host would be in two availability zones at once."""

    msg_fmt = ("Host %(host)r is in availability zone %(zone)r already "
               "(aggregate %(other_id)s); remove it there first.")


class AggregateInUse(Conflict):
    msg_fmt = ("Aggregate %(aggregate_id)s still has hosts; remove them "
               "before deleting it.")


class RPCVersionTooNew(Conflict):
    """Raised by an RPC client instead of sending a message that the
    running services of its topic would not understand (rolling upgrade).

    Nothing was sent. The operator upgrades those services (or lowers
    ``[upgrade_levels] <topic>`` once they are); the caller may retry then.
    """

    msg_fmt = ("%(method)s needs RPC %(version)s on topic %(topic)s; the "
               "running %(topic)s services speak %(cap)s: upgrade them "
               "first")


class NotAuthorized(CapstanError):
    """Raised when credentials are missing or wrong; callers answer 401."""

    msg_fmt = "Authentication required."


class Forbidden(CapstanError):
    """Raised when policy denies the operation; callers answer 403."""

    msg_fmt = "Policy does not allow this operation."


class ServiceUnavailable(CapstanError):
    """Raised when the database or the broker cannot be reached.

    Callers answer 503; the operation may be retried later.
    """

    msg_fmt = "A backend service is unavailable; try again later."


class Overloaded(ServiceUnavailable):
    """More work is in flight than the deployment takes: the request was
    refused before it did anything. The caller retries after
    ``retry_after`` seconds (the API's Retry-After header)."""

    msg_fmt = ("%(count)s %(what)s are being created already (the bound is "
               "%(limit)s); try again in %(retry_after)s s.")

    def __init__(self, message: str | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = int(kwargs.get("retry_after", 1))


class NoValidHost(CapstanError):
    msg_fmt = "No valid host was found: %(reason)s"


class DriverNotFound(CapstanError):
    msg_fmt = "Cannot load driver %(name)s: %(reason)s"


class ManagerNotFound(CapstanError):
    msg_fmt = "Cannot load manager %(name)s: %(reason)s"


class PasteConfigError(CapstanError):
    """Raised when the paste file cannot be loaded into a WSGI app.

    The one-line message names the file and the section or app at fault;
    ``api-server`` prints it and exits instead of serving.
    """

    msg_fmt = "cannot load %(name)r from %(path)s: %(reason)s"
