"""Parsing of /v1/volumes bodies, queries and ids: no I/O, no app."""
from __future__ import annotations

import pytest

from capstan_volumes.api import validation
from capstan.common import exception
from capstan_volumes import exception as volume_exception

A = "0b8e3c2e-7e0a-4a8e-9a61-2f3f3d1b6c11"
B = "9f0c8d7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


def test_parse_create_minimal_body_gets_defaults():
    request = validation.parse_create({"volume": {"size": 1}})
    assert request == validation.CreateRequest(size=1)
    assert (request.metadata, request.scheduler_hints) == ({}, {})


def test_parse_create_full_body_is_kept():
    request = validation.parse_create({"volume": {
        "size": 16384, "name": "data", "availability_zone": "az1",
        "metadata": {"tier": "gold", "empty": ""},
        "scheduler_hints": {"same_host": [A], "different_host": [B]}}})
    assert request == validation.CreateRequest(
        size=16384, name="data", availability_zone="az1",
        metadata={"tier": "gold", "empty": ""},
        scheduler_hints={"same_host": [A], "different_host": [B]})


def test_parse_create_nulls_mean_absent():
    request = validation.parse_create({"volume": {
        "size": 2, "name": None, "availability_zone": None,
        "metadata": None, "scheduler_hints": None}})
    assert request == validation.CreateRequest(size=2)


def test_parse_create_hints_are_lowercased_deduplicated_and_empty_dropped():
    request = validation.parse_create({"volume": {
        "size": 1, "scheduler_hints": {"same_host": [A.upper(), A],
                                       "different_host": []}}})
    assert request.scheduler_hints == {"same_host": [A]}


@pytest.mark.parametrize("size", [0, -1, 16385, True, False, 1.0, 1.5, "2",
                                  None, [1]])
def test_parse_create_bad_size_is_invalid(size):
    with pytest.raises(exception.Invalid, match="from 1 to 16384"):
        validation.parse_create({"volume": {"size": size}})


def test_parse_create_unknown_field_is_named():
    with pytest.raises(exception.Invalid, match="colour, shape"):
        validation.parse_create({"volume": {"size": 1, "shape": "x",
                                            "colour": "y"}})


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
        validation.parse_create({"volume": volume})


def test_parse_create_limits_are_inclusive():
    validation.parse_create({"volume": {
        "size": 1, "name": "x" * 255,
        "metadata": {str(i): "v" * 255 for i in range(64)},
        "scheduler_hints": {"same_host": [A] * 16, "aggregate_metadata": {
            str(i): "v" * 255 for i in range(16)}}}})


def test_parse_create_aggregate_metadata_hint_is_kept_empty_dropped():
    request = validation.parse_create({"volume": {
        "size": 1, "scheduler_hints": {"aggregate_metadata": {"ssd": "true"},
                                       "same_host": [A]}}})
    assert request.scheduler_hints == {"aggregate_metadata": {"ssd": "true"},
                                       "same_host": [A]}

    request = validation.parse_create({"volume": {
        "size": 1, "scheduler_hints": {"aggregate_metadata": {}}}})
    assert request.scheduler_hints == {}


def test_parse_create_aggregate_metadata_error_names_the_hint():
    with pytest.raises(exception.Invalid,
                       match="scheduler_hints.aggregate_metadata"):
        validation.parse_create({"volume": {
            "size": 1, "scheduler_hints": {"aggregate_metadata": "ssd"}}})


def test_parse_action_extend():
    assert validation.parse_action({"extend": {"new_size": 7}}) == (
        "extend", 7)


@pytest.mark.parametrize("body, words", [
    ({}, "exactly one action"),
    ({"extend": {"new_size": 2}, "x": {}}, "exactly one action"),
    ({"resize": {"new_size": 2}}, "Unknown action 'resize'"),
    ({"extend": []}, "must be an object"),
    ({"extend": {}}, "new_size is required"),
    ({"extend": {"new_size": 2, "size": 1}}, "Unknown field"),
    ({"extend": {"new_size": False}}, "integer"),
])
def test_parse_action_invalid(body, words):
    with pytest.raises(exception.Invalid, match=words):
        validation.parse_action(body)


def test_parse_list_query_defaults():
    assert validation.parse_list_query({}) == validation.ListQuery(
        filters={}, limit=100, marker=None, sort_key="created_at",
        sort_dir="desc")


def test_parse_list_query_all_parameters():
    query = validation.parse_list_query({
        "status": "error", "name": "", "host": "h1", "limit": "1000",
        "marker": A.upper(), "sort_key": "name", "sort_dir": "asc"})
    assert query == validation.ListQuery(
        filters={"status": "error", "name": "", "host": "h1"}, limit=1000,
        marker=A, sort_key="name", sort_dir="asc")


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "1001"}, {"limit": "1.5"}, {"limit": "+5"},
    {"limit": "²"}, {"limit": ""}, {"sort_key": "host"},
    {"sort_dir": "ASC"}, {"status": "deleted"}, {"marker": "x"},
    {"name": "n" * 256}, {"host": "h" * 256},
])
def test_parse_list_query_invalid(params):
    with pytest.raises(exception.Invalid):
        validation.parse_list_query(params)


@pytest.mark.parametrize("raw", ["x", "", A + "0", A.replace("-", ""),
                                 "{" + A + "}", "urn:uuid:" + A])
def test_volume_id_not_a_uuid_is_not_found(raw):
    with pytest.raises(volume_exception.VolumeNotFound):
        validation.volume_id(raw)


def test_volume_id_is_lowercased():
    assert validation.volume_id(A.upper()) == A
