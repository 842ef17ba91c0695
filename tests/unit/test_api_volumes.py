"""The /v1/volumes declaration: its schemas parse bodies and queries the
way the REST contract says (no I/O, no app)."""
from __future__ import annotations

import pytest

from capstan.api import schema
from capstan.api.resource import is_id
from capstan.common import exception
from capstan_volumes.api.volume_api import _hints
from capstan_volumes.api.volumes import VOLUMES, Extend, VolumeCreate

A = "0b8e3c2e-7e0a-4a8e-9a61-2f3f3d1b6c11"
B = "9f0c8d7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def parse_create(body: dict) -> VolumeCreate:
    return schema.parse(VolumeCreate, body["volume"], "volume")


def parse_action(body: dict) -> Extend:
    return schema.parse(Extend, body["extend"], "extend")


def parse_list_query(params: dict):
    return schema.parse(VOLUMES.list_query, params)


def test_parse_create_minimal_body_gets_defaults():
    request = parse_create({"volume": {"size": 1}})
    assert request == VolumeCreate(size=1)
    assert (request.metadata, _hints(request.scheduler_hints)) == (None, {})


def test_parse_create_full_body_is_kept():
    request = parse_create({"volume": {
        "size": 16384, "name": "data", "availability_zone": "az1",
        "metadata": {"tier": "gold", "empty": ""},
        "scheduler_hints": {"same_host": [A], "different_host": [B]}}})
    assert (request.size, request.name, request.availability_zone,
            request.metadata) == (16384, "data", "az1",
                                  {"tier": "gold", "empty": ""})
    assert _hints(request.scheduler_hints) == {"same_host": [A],
                                               "different_host": [B]}


def test_parse_create_nulls_mean_absent():
    request = parse_create({"volume": {
        "size": 2, "name": None, "availability_zone": None,
        "metadata": None, "scheduler_hints": None}})
    assert request == VolumeCreate(size=2)


def test_parse_create_hints_are_lowercased_deduplicated_and_empty_dropped():
    request = parse_create({"volume": {
        "size": 1, "scheduler_hints": {"same_host": [A.upper(), A],
                                       "different_host": []}}})
    assert _hints(request.scheduler_hints) == {"same_host": [A]}


@pytest.mark.parametrize("size", [0, -1, 16385, True, False, 1.5, "2",
                                  None, [1]])
def test_parse_create_bad_size_is_invalid(size):
    with pytest.raises(exception.Invalid, match=r"^volume\.size: .*got"):
        parse_create({"volume": {"size": size}})


def test_parse_create_integral_number_is_an_integer():
    # JSON has one number type: 2.0 is the integer 2 (JSON Schema 2020-12).
    assert parse_create({"volume": {"size": 2.0}}).size == 2


def test_parse_create_unknown_field_is_named():
    with pytest.raises(exception.Invalid,
                       match=r"volume\.colour: Unknown field.*1 more"):
        parse_create({"volume": {"size": 1, "colour": "y", "shape": "x"}})


@pytest.mark.parametrize("volume", [
    {"size": 1, "name": "x" * 256},
    {"size": 1, "name": "a\x00"},
    {"size": 1, "name": 1},
    {"size": 1, "availability_zone": ""},
    {"size": 1, "metadata": {"k": None}},
    {"size": 1, "metadata": {"k": "\x00"}},
    {"size": 1, "metadata": {str(i): "" for i in range(65)}},
    {"size": 1, "scheduler_hints": {"same_host": [A] * 17}},
    {"size": 1, "scheduler_hints": {"same_host": [A + " "]}},
    {"size": 1, "scheduler_hints": {"same_host": [None]}},
    {"size": 1, "scheduler_hints": {"other": []}},
    {"size": 1, "scheduler_hints": {"aggregate_metadata": ["ssd"]}},
    {"size": 1, "scheduler_hints": {"aggregate_metadata": {"ssd": True}}},
    {"size": 1, "scheduler_hints": {"aggregate_metadata": {"ssd": None}}},
    {"size": 1, "scheduler_hints": {"aggregate_metadata": {"": "x"}}},
    {"size": 1, "scheduler_hints": {"aggregate_metadata": {"k": "v" * 256}}},
    {"size": 1, "scheduler_hints": {"aggregate_metadata": {
        str(i): "v" for i in range(17)}}},
])
def test_parse_create_out_of_bounds_is_invalid(volume):
    with pytest.raises(exception.Invalid):
        parse_create({"volume": volume})


def test_parse_create_limits_are_inclusive():
    parse_create({"volume": {
        "size": 1, "name": "x" * 255,
        "metadata": {str(i): "v" * 255 for i in range(64)},
        "scheduler_hints": {"same_host": [A] * 16, "aggregate_metadata": {
            str(i): "v" * 255 for i in range(16)}}}})


def test_parse_create_aggregate_metadata_hint_is_kept_empty_dropped():
    request = parse_create({"volume": {
        "size": 1, "scheduler_hints": {"aggregate_metadata": {"ssd": "true"},
                                       "same_host": [A]}}})
    assert _hints(request.scheduler_hints) == {
        "aggregate_metadata": {"ssd": "true"}, "same_host": [A]}

    request = parse_create({"volume": {
        "size": 1, "scheduler_hints": {"aggregate_metadata": {}}}})
    assert _hints(request.scheduler_hints) == {}


def test_parse_create_aggregate_metadata_error_names_the_hint():
    with pytest.raises(exception.Invalid,
                       match="scheduler_hints.aggregate_metadata"):
        parse_create({"volume": {
            "size": 1, "scheduler_hints": {"aggregate_metadata": "ssd"}}})


def test_parse_action_extend():
    assert parse_action({"extend": {"new_size": 7}}) == Extend(new_size=7)


@pytest.mark.parametrize("args, words", [
    ([], "extend: Input should be"),
    ({}, "extend.new_size: Field required"),
    ({"new_size": 2, "size": 1}, "extend.size: Unknown field"),
    ({"new_size": False}, "extend.new_size: Input should be a valid integer"),
])
def test_parse_action_invalid(args, words):
    with pytest.raises(exception.Invalid, match=words):
        parse_action({"extend": args})


def test_parse_list_query_defaults():
    query = parse_list_query({})
    assert (query.status, query.name, query.host, query.limit, query.marker,
            query.sort_key, query.sort_dir) == (
        None, None, None, 100, None, "created_at", "desc")


def test_parse_list_query_all_parameters():
    query = parse_list_query({
        "status": "error", "name": "", "host": "h1", "limit": "1000",
        "marker": A.upper(), "sort_key": "name", "sort_dir": "asc"})
    assert (query.status, query.name, query.host, query.limit, query.marker,
            query.sort_key, query.sort_dir) == (
        "error", "", "h1", 1000, A.upper(), "name", "asc")


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "1001"}, {"limit": "1.5"},
    {"limit": "²"}, {"limit": ""}, {"sort_key": "host"},
    {"sort_dir": "ASC"}, {"status": "deleted"}, {"marker": "x"},
    {"name": "n" * 256}, {"host": "h" * 256}, {"name": "a\x00"},
])
def test_parse_list_query_invalid(params):
    with pytest.raises(exception.Invalid):
        parse_list_query(params)


@pytest.mark.parametrize("raw", ["x", "", A + "0", A.replace("-", ""),
                                 "{" + A + "}", "urn:uuid:" + A, A + "\n"])
def test_is_id_refuses_what_is_not_a_uuid(raw):
    assert not is_id(raw)


def test_is_id_takes_any_case():
    assert is_id(A) and is_id(A.upper())
