"""The work behind a declared resource (:class:`Operations`): the row
first, then the cast; undo when the cast cannot go.

An application subclasses :class:`Operations` for each resource it
declares (:class:`capstan.api.resource.Resource`); the framework's
controller calls its ``create``, ``delete`` and action methods once the
request is parsed and allowed.
"""
from __future__ import annotations

import dataclasses
import logging
import sys
import uuid
from typing import TYPE_CHECKING, Any, Callable

from capstan.common import exception, rpc
from capstan.common.context import RequestContext
from capstan.common.db.api import Database
from capstan.common.db.placement import Placement
from capstan.common.db.rows import Rows

if TYPE_CHECKING:
    from capstan.api.resource import Resource

LOG = logging.getLogger(__name__)

NOT_SENT = "the message bus is unavailable"


@dataclasses.dataclass(frozen=True)
class Holding:
    """A row a new row depends on (the source of a copy, say): it must be
    in ``statuses`` when the new row is written and
    it is read-locked until then, so that a delete cannot slip between
    the check and the insert (:meth:`Operations.insert`)."""

    rows: Rows
    row_id: str
    statuses: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Dependents:
    """Rows that name a row in ``column`` (copies of it, say): while any
    is live (and in ``statuses``, if given) that row may not be
    deleted; ``label`` names them in the 409 (:meth:`Operations.swap`)."""

    rows: Rows
    column: str
    label: str
    statuses: tuple[str, ...] | None = None


class Operations:
    """The work behind a resource, for one app: an application subclasses
    it with ``create(context, request)`` (returns the new row),
    ``delete(context, row)`` and one ``<action>(context, row, args)`` per
    action.

    The helpers keep the framework's promise for every write: the row
    changes first by compare-and-swap (:meth:`swap`), then one cast goes
    out (:meth:`send`); when the cast cannot be delivered the row's change
    is undone and the client gets 503, so no row is left in a transitional
    status that no worker will finish.
    """

    def __init__(self, resource: "Resource", db: Database) -> None:
        self.resource = resource
        self.rows = resource.rows
        self.db = db
        self.placement = Placement(db)

    def insert(self, context: RequestContext, cast: Callable[[Any], None],
               *, claim: tuple[str, dict[str, int]] | None = None,
               holding: Holding | None = None, **values: Any) -> Any:
        """Write the new row (a fresh id, ``creating``, the caller's
        project and user, ``values``), then ``cast(row)``.

        With ``claim`` (host, {resource class: amount}) the row's
        resources are claimed on that host in the row's transaction
        (CapacityExceeded, a 409, writes nothing). With ``holding``, the
        row it names is read-locked in that transaction and must still be
        in its statuses (InvalidStatus, a 409, writes nothing). A cast
        that cannot be delivered moves the row to ``error`` with a fault
        and gives its claim back; one refused before it was sent (409)
        leaves no row.
        """
        now = self.db.now()
        values = {"id": str(uuid.uuid4()), "status": "creating",
                  "project_id": context.project_id,
                  "user_id": context.user_id, "created_at": now,
                  "updated_at": now, **values}
        if claim is None and holding is None:
            row = self.rows.create(self.db, **values)
        else:
            with self.placement.transaction() as connection:
                if holding is not None:
                    self._hold(connection, holding)
                row = self.rows.create(self.db, connection=connection,
                                       **values)
                if claim is not None:
                    self.placement.claim(connection, row.id, *claim)
        # Only the row as written: a worker may have moved it on since.
        where = {"host": values["host"]} if "host" in values else None

        def undo(fault: str | None = None) -> None:
            # With a fault: the row stays, in error; without: it goes.
            change = ({"status": "error", "fault": fault} if fault else
                      {"deleted_at": self.db.now()})
            with self.placement.transaction() as connection:
                if self.rows.cas(self.db, row.id, "creating", where=where,
                                 connection=connection, **change) \
                        and claim is not None:
                    self.placement.release(connection, row.id)

        self.send(row, "create", lambda: cast(row), undo=undo, refused=undo)
        return row

    def start_delete(self, row: Any, deletable: tuple[str, ...],
                     cast: Callable[[], None], *,
                     unless: tuple[Dependents, ...] = ()) -> None:
        """``row`` to ``deleting`` (409 unless ``deletable``, or while
        rows of ``unless`` depend on it), then cast; a failed cast puts
        its status back with a fault."""
        self.swap(row, deletable, unless=unless, status="deleting")
        self.send(row, "delete", cast, undo=lambda fault: self.rows.cas(
            self.db, row.id, "deleting", status=row.status, fault=fault),
            refused=lambda: self.rows.cas(self.db, row.id, "deleting",
                                          status=row.status))

    def get(self, context: RequestContext, row_id: str) -> Any:
        """A live row the caller may see; the resource's NotFound else."""
        return self.rows.get(self.db, row_id,
                             project_id=self.scope(context))

    def require(self, context: RequestContext, rows: Rows, row_id: str,
                statuses: tuple[str, ...] | None = None, *,
                field: str = "The request") -> Any:
        """A row a request names in ``field`` (the source of a copy, say):
        one the caller may see (400 naming the field else: the request is
        wrong, not its URL), in ``statuses`` if given (409 else)."""
        try:
            row = rows.get(self.db, row_id.lower(),
                           project_id=self.scope(context))
        except exception.NotFound:
            raise exception.Invalid(
                f"{field} names {row_id}, which is not a "
                f"{rows.model.__name__.lower()} you can see.") from None
        if statuses is not None and row.status not in statuses:
            raise exception.InvalidStatus(
                resource=rows.model.__name__, id=row.id, status=row.status,
                expected=", ".join(statuses))
        return row

    def scope(self, context: RequestContext) -> str | None:
        """The project whose rows the caller sees; None: every project."""
        if context.is_admin:
            return None
        if not context.project_id:
            # Never read "no project" as "every project".
            raise exception.Forbidden(
                f"A project is needed to use {self.resource.collection}.")
        return context.project_id

    def check_status(self, row: Any, allowed: tuple[str, ...]) -> None:
        if row.status not in allowed:
            raise self.invalid_status(row.id, row.status, allowed)

    def invalid_status(self, row_id: str, status: str,
                       allowed: tuple[str, ...]) -> exception.InvalidStatus:
        return exception.InvalidStatus(
            resource=self.resource.name.capitalize(), id=row_id,
            status=status, expected=", ".join(allowed))

    def swap(self, row: Any, allowed: tuple[str, ...], *,
             unless: tuple[Dependents, ...] = (), **values: Any) -> None:
        """Set ``values`` if the status is still the one read (so that an
        undo can put exactly that status back); else 409. With
        ``unless``, also 409 while any of those rows depends on this one:
        the row is locked, then they are read, then it changes, in one
        transaction (an insert holding it waits, or is refused)."""
        self.check_status(row, allowed)
        if unless:
            with self.placement.transaction() as connection:
                if self.rows.lock(connection, row.id) == row.status:
                    self._refuse_if_depended_on(connection, row, unless)
                changed = self.rows.cas(self.db, row.id, row.status,
                                        connection=connection, **values)
        else:
            changed = self.rows.cas(self.db, row.id, row.status, **values)
        if changed:
            return
        current = self.rows.get(self.db, row.id)
        if current.status in allowed:
            raise exception.Conflict(
                f"{self.resource.name.capitalize()} {row.id} changed while "
                "this request ran; try again.")
        raise self.invalid_status(row.id, current.status, allowed)

    def _hold(self, connection: Any, holding: Holding) -> None:
        status = holding.rows.lock(connection, holding.row_id, shared=True)
        if status not in holding.statuses:
            raise exception.InvalidStatus(
                resource=holding.rows.model.__name__, id=holding.row_id,
                status=status or "deleted",
                expected=", ".join(holding.statuses))

    def _refuse_if_depended_on(self, connection: Any, row: Any,
                               unless: tuple[Dependents, ...]) -> None:
        for dependents in unless:
            ids = dependents.rows.live_ids(
                connection, statuses=dependents.statuses,
                **{dependents.column: row.id})
            if ids:
                raise exception.Conflict(
                    f"{self.resource.name.capitalize()} {row.id} has "
                    f"{dependents.label} {', '.join(ids)}; delete them "
                    "first.")

    def send(self, row: Any, action: str, cast: Callable[[], None],
             undo: Callable[[str], Any],
             refused: Callable[[], Any] | None = None) -> None:
        """Cast; if that fails, undo the row's change and re-raise.

        A broker failure becomes ServiceUnavailable (503); anything else
        is a bug, re-raised as it is (500), with the row undone all the
        same. A cast refused before it was sent (a Conflict: an RPC
        version the running services do not speak yet) calls ``refused``
        instead, when given: the request had no effect, so the row's
        change goes without a trace.
        """
        name = self.resource.name
        try:
            cast()
        except rpc.TRANSPORT_ERRORS as exc:
            LOG.warning("could not send %s of %s %s: %s: %s", action, name,
                        row.id, type(exc).__name__, exc)
            undo(f"{action} failed: {NOT_SENT}")
            raise exception.ServiceUnavailable() from exc
        except exception.Conflict:
            LOG.warning("%s of %s %s refused: %s", action, name, row.id,
                        sys.exc_info()[1])
            if refused is None:
                undo(f"{action} failed: the request was refused")
            else:
                refused()
            raise
        except Exception:
            LOG.exception("sending %s of %s %s failed", action, name, row.id)
            undo(f"{action} failed: the request could not be sent")
            raise
