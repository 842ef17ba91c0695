"""The service records' queries (common/db/services.py), on both backends."""
import pytest
from sqlalchemy import exc as sa_exc

from capstan.common import exception
from capstan.common.db.services import Services


@pytest.fixture
def services(database):
    return Services(database)


def test_service_create_one_live_row_per_host_and_topic(services):
    services.create("h", "worker", "volume")

    with pytest.raises(sa_exc.IntegrityError):
        services.create("h", "worker", "volume")


def test_service_create_soft_deleted_row_does_not_block(services):
    first = services.create("h", "worker", "volume")
    services.destroy(first.id)

    second = services.create("h", "worker", "volume")

    assert second.id != first.id
    assert services.get_by_host_topic("h", "volume").id == second.id


def test_service_create_same_host_other_topic_is_fine(services):
    services.create("h", "worker", "volume")
    services.create("h", "worker", "scheduler")
    services.create("h2", "worker", "volume")

    assert len(services.get_all()) == 3


def test_service_get_all_filters_and_hides_deleted(services):
    a = services.create("a", "worker", "volume")
    b = services.create("b", "worker", "scheduler")
    c = services.create("c", "api-server", "api")
    services.destroy(c.id)

    assert [r.id for r in services.get_all()] == [a.id, b.id]
    assert [r.id for r in services.get_all(host="b")] == [b.id]
    assert [r.id for r in services.get_all(topic="volume")] == [a.id]
    assert services.get_all(binary="api-server") == []


@pytest.mark.parametrize("call", [
    lambda services: services.get(12345),
    lambda services: services.update(12345, disabled=True),
    lambda services: services.heartbeat(12345),
    lambda services: services.destroy(12345),
], ids=["get", "update", "heartbeat", "destroy"])
def test_service_queries_on_a_missing_row_raise_not_found(services, call):
    with pytest.raises(exception.ServiceNotFound, match="12345"):
        call(services)


def test_service_queries_on_a_deleted_row_raise_not_found(services):
    row = services.create("h", "worker", "volume")
    services.destroy(row.id)

    with pytest.raises(exception.ServiceNotFound):
        services.get(row.id)
    with pytest.raises(exception.ServiceNotFound):
        services.heartbeat(row.id)
