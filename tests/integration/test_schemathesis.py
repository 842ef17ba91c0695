"""Schema fuzzing: generated requests against a real api-server conform.

How to run::

    CAPSTAN_TEST_DB_URL=postgresql+psycopg://postgres@127.0.0.1/test \\
    CAPSTAN_TEST_TRANSPORT_URL=rabbit://guest:guest@127.0.0.1:5672/ \\
        /work/venv/bin/python -m pytest tests/integration/test_schemathesis.py

schemathesis reads docs/openapi.yaml and generates requests for every
operation in it -- valid ones and, as schemathesis' negative mode does,
ones that break the schema -- and sends them over a real socket to one
``api-server`` (token auth, an admin token) with a scheduler and a volume
worker (fake driver) on a fresh PostgreSQL database and RabbitMQ vhost
(tests/integration/live_api.py). Every response must pass schemathesis'
checks: no 5xx, a status the document lists for the operation, a body and
headers matching its schema, 405 with ``Allow`` for a method a path does
not take, 401 without a token.

Hypothesis runs up to :data:`MAX_EXAMPLES` examples per operation (fewer
for operations without parameters); the module counts every request sent
and asserts at least :data:`MIN_REQUESTS` and no 5xx. With
``CAPSTAN_RELIABILITY_FIGURES`` set to a file, the figures are appended to
it as one JSON line (docs/reliability.md, "Schema fuzzing").
"""
from __future__ import annotations

import collections
import json
import os
import pathlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks
from schemathesis.config import ApiKeyAuthConfig

from tests.integration.live_api import live_api

pytestmark = pytest.mark.timeout(600)

OPENAPI = pathlib.Path(__file__).resolve().parents[2] / "docs" / \
    "openapi.yaml"
MAX_EXAMPLES = 250
MIN_REQUESTS = 1000
FIGURES_ENV = "CAPSTAN_RELIABILITY_FIGURES"
HTTP_TIMEOUT = 60

# (operation, status) of every request sent, in order.
SENT: list[tuple[str, int]] = []


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with live_api(tmp_path_factory.mktemp("schemathesis")) as api:
        api.token = api.create_token("admin", "admin", "admin")
        api.start(worker_topics=("scheduler", "volume"))
        yield api


# A 400 to a schema-valid request is a failure (schemathesis'
# positive_data_acceptance), except for these constraints, which JSON
# Schema cannot state: a reference to a row the caller cannot see
# (marker, scheduler hints, the volume of a snapshot, the snapshot of a
# volume), an extend that does not grow the volume, a
# metadata key that is empty or holds a NUL (OpenAPI 3.0 has no
# propertyNames), and an aggregate's metadata outgrowing 64 items over
# several requests. Matched on the error message the API answers with.
SEMANTIC_400 = ("you can see",
                "must be larger than the volume's size",
                "a volume.metadata key",
                "aggregate_metadata key",
                "aggregate metadata key",
                "The aggregate metadata would have",
                # Every other string of the schema excludes NUL.
                "NUL characters are not allowed")


def positive_data_accepted(ctx, response, case):
    """positive_data_acceptance, but for the 400s of SEMANTIC_400."""
    if response.status_code == 400 and response.content:
        message = json.loads(response.content)["error"]["message"]
        if any(reason in message for reason in SEMANTIC_400):
            return None
    return checks.positive_data_acceptance(ctx, response, case)


# Loaded from the file at import; the server's URL goes to each call and
# its token in the ``served`` fixture. (schemathesis.pytest.from_fixture
# would load it from a fixture, but its lazy parametrization breaks on
# pytest 9.2: it sets pytest's removed ``Function._nodeid``.)
schema = schemathesis.openapi.from_path(str(OPENAPI))


@pytest.fixture(scope="module")
def served(live):
    """``live``, with its admin token given to the schema.

    The token is the credential of the ``token`` security scheme, so
    schemathesis sends it on every request except those it builds to
    check that a missing or wrong token is refused.
    """
    schema.config.auth.openapi.schemes["token"] = ApiKeyAuthConfig(
        api_key=live.token)
    return live


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_schemathesis_generated_requests_conform(case, served):
    response = case.call(base_url=served.base_url,
                         timeout=HTTP_TIMEOUT)
    SENT.append((case.operation.label, response.status_code))
    case.validate_response(
        response, excluded_checks=[checks.positive_data_acceptance],
        additional_checks=[positive_data_accepted])


def test_schemathesis_sent_enough_requests_and_no_5xx(live):
    # Runs after the generated tests above (pytest keeps module order) and
    # counts what they sent.
    statuses = collections.Counter(status for _, status in SENT)
    per_operation = collections.Counter(label for label, _ in SENT)
    server_errors = sum(count for status, count in statuses.items()
                        if status >= 500)
    figures = {"requests": len(SENT), "server_errors": server_errors,
               "statuses": dict(sorted(statuses.items())),
               "operations": dict(sorted(per_operation.items()))}
    print(f"schemathesis figures: {json.dumps(figures)}")
    if os.environ.get(FIGURES_ENV):
        with open(os.environ[FIGURES_ENV], "a", encoding="utf-8") as out:
            out.write(json.dumps({"test": "schemathesis", **figures}) + "\n")

    assert server_errors == 0, figures
    assert len(SENT) >= MIN_REQUESTS, figures
    live.assert_running()
    log = live.log()
    assert "failed unexpectedly" not in log and "Traceback" not in log, \
        live.api.log_tail(80)
