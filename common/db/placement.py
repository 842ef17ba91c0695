"""Capacity claims in the database: inventories per host, allocations per
consumer, so that no host goes over what it offers, whatever the number of
schedulers.

Each host is a resource provider: per resource class (``DISK_GB``, ...)
its worker writes an inventory (``total``, ``reserved``,
``allocation_ratio``) with :meth:`Placement.set_inventory`. A scheduler
claims what a request consumes with :meth:`Placement.claim`, in the same
transaction as the row's move to that host: one conditional UPDATE per
class, which the database applies only while ``used + amount <= total x
allocation_ratio - reserved``. Two schedulers that chose the same host
from stale views cannot both fit: the second UPDATE finds no room and its
transaction rolls back (:class:`~capstan.common.exception.CapacityExceeded`).
What a consumer holds is released with :meth:`Placement.release`, in the
transaction of the state change that frees it, so a duplicate release
frees nothing twice.

NOTE(capstan): nova's Placement keeps a generation per provider and
compares it on every write; the conditional UPDATE here is the same
compare-and-swap on the one number that matters (``used``), without the
extra read. The row lock PostgreSQL takes for the UPDATE makes concurrent
claims on one host queue, each re-checking the condition on the row as the
previous one left it (READ COMMITTED re-evaluates the WHERE clause).
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from capstan.common import exception
from capstan.common.db import listing, models
from capstan.common.db.api import Database

INVENTORY = models.ResourceInventory.__table__
ALLOCATION = models.ResourceAllocation.__table__


class Placement:
    """Inventories and allocations over a :class:`Database`.

    :meth:`claim` and :meth:`release` run on a connection the caller holds
    in a transaction (:meth:`transaction`), together with the caller's own
    compare-and-swap; the rest run on their own.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection in one transaction: committed when the block ends,
        rolled back when it raises."""
        with self.db.transaction() as connection:
            yield connection

    # -- inventories (the workers' reports) -------------------------------

    def set_inventory(self, host: str, resource_class: str, *, total: int,
                      reserved: int = 0,
                      allocation_ratio: float = 1.0) -> None:
        """Write what ``host`` offers of ``resource_class``.

        ``used`` is kept as the allocations left it; a new inventory starts
        from the allocations already held on the host (those written before
        the host first reported, e.g. by a migration).
        """
        values = {"total": int(total), "reserved": int(reserved),
                  "allocation_ratio": float(allocation_ratio),
                  "updated_at": self.db.now()}
        key = {"host": host, "resource_class": resource_class}
        with self.db.transaction() as connection:
            if _update_inventory(connection, key, values):
                return
            held = sa.select(sa.func.coalesce(sa.func.sum(
                ALLOCATION.c.amount), 0)).where(
                ALLOCATION.c.host == host,
                ALLOCATION.c.resource_class == resource_class)
            try:
                with connection.begin_nested():
                    connection.execute(sa.insert(INVENTORY).values(
                        **key, **values, used=held.scalar_subquery()))
            except sa_exc.IntegrityError:
                # Another report of this host inserted it first.
                _update_inventory(connection, key, values)

    def inventories(self, resource_class: str | None = None) -> list[tuple]:
        """Every inventory as named tuples (host, resource_class, total,
        reserved, allocation_ratio, used), one statement."""
        query = sa.select(INVENTORY.c.host, INVENTORY.c.resource_class,
                          INVENTORY.c.total, INVENTORY.c.reserved,
                          INVENTORY.c.allocation_ratio, INVENTORY.c.used)
        if resource_class is not None:
            query = query.where(INVENTORY.c.resource_class == resource_class)
        with self.db.autocommit() as connection:
            return listing.plain_rows(connection.execute(query))

    # -- allocations (a placement, a release) -----------------------------

    @staticmethod
    def claim(connection: sa.Connection, consumer_id: str, host: str,
              resources: Mapping[str, int]) -> None:
        """Add ``resources`` to what ``consumer_id`` holds on ``host``.

        Raises CapacityExceeded, naming the first class that does not fit,
        when the host has no room (or no inventory) for it; the caller's
        transaction must then roll back, which undoes the classes claimed
        before it.
        """
        for resource_class, amount in sorted(resources.items()):
            if amount <= 0:
                continue
            key = {"b_host": host, "b_class": resource_class,
                   "b_amount": amount, "b_consumer": consumer_id}
            if connection.execute(_FIT, key).rowcount != 1:
                raise exception.CapacityExceeded(
                    host=host, resource_class=resource_class, amount=amount)
            if not connection.execute(_GROW, key).rowcount:
                connection.execute(_ADD, {
                    "consumer_id": consumer_id, "host": host,
                    "resource_class": resource_class, "amount": amount,
                    "created_at": models.utcnow()})

    @staticmethod
    def release(connection: sa.Connection, consumer_id: str,
                resources: Mapping[str, int] | None = None
                ) -> dict[str, int]:
        """Give back what ``consumer_id`` holds: all of it, or at most
        ``resources`` per class. Returns what was freed, per class.

        A second release of the same allocation frees nothing: the amount
        is checked in the statement that removes it.
        """
        held = connection.execute(
            sa.select(ALLOCATION.c.resource_class, ALLOCATION.c.host,
                      ALLOCATION.c.amount)
            .where(ALLOCATION.c.consumer_id == consumer_id)
            .with_for_update()).all()
        freed: dict[str, int] = {}
        for resource_class, host, amount in held:
            take = amount if resources is None else min(
                amount, resources.get(resource_class, 0))
            if take <= 0:
                continue
            key = (ALLOCATION.c.consumer_id == consumer_id,
                   ALLOCATION.c.resource_class == resource_class,
                   ALLOCATION.c.amount == amount)
            if take == amount:
                statement = sa.delete(ALLOCATION).where(*key)
            else:
                statement = sa.update(ALLOCATION).where(*key).values(
                    amount=amount - take)
            if connection.execute(statement).rowcount != 1:
                continue  # released meanwhile by someone else
            connection.execute(
                sa.update(INVENTORY)
                .where(INVENTORY.c.host == host,
                       INVENTORY.c.resource_class == resource_class)
                .values(used=INVENTORY.c.used - take))
            freed[resource_class] = take
        return freed

    def allocations(self, consumer_id: str) -> dict[str, tuple[str, int]]:
        """What ``consumer_id`` holds: class -> (host, amount)."""
        query = sa.select(ALLOCATION.c.resource_class, ALLOCATION.c.host,
                          ALLOCATION.c.amount).where(
            ALLOCATION.c.consumer_id == consumer_id)
        with self.db.autocommit() as connection:
            return {row.resource_class: (row.host, row.amount)
                    for row in connection.execute(query)}


def _update_inventory(connection: sa.Connection, key: dict,
                      values: dict) -> bool:
    return connection.execute(
        sa.update(INVENTORY)
        .where(INVENTORY.c.host == key["host"],
               INVENTORY.c.resource_class == key["resource_class"])
        .values(**values)).rowcount == 1


# NOTE(capstan): a claim's statements, built once with bound values:
# building them per claim (expressions, then SQLAlchemy's cache key) was
# the scheduler's largest cost of its own per placement (benchmark 3's
# profile, 2026-12-02).
# (Bound names differ from the columns': SQLAlchemy keeps those for SET.)
_AMOUNT = sa.bindparam("b_amount", type_=sa.Integer)
_FIT = (sa.update(INVENTORY)
        .where(INVENTORY.c.host == sa.bindparam("b_host"),
               INVENTORY.c.resource_class == sa.bindparam("b_class"),
               INVENTORY.c.used + _AMOUNT
               <= INVENTORY.c.total * INVENTORY.c.allocation_ratio
               - INVENTORY.c.reserved)
        .values(used=INVENTORY.c.used + _AMOUNT))
_GROW = (sa.update(ALLOCATION)
         .where(ALLOCATION.c.consumer_id == sa.bindparam("b_consumer"),
                ALLOCATION.c.resource_class == sa.bindparam("b_class"),
                ALLOCATION.c.host == sa.bindparam("b_host"))
         .values(amount=ALLOCATION.c.amount + _AMOUNT))
_ADD = sa.insert(ALLOCATION)
