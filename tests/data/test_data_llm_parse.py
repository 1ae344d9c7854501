"""Robust JSON parsing of messy LLM output, retry policy, token counting."""

from __future__ import annotations

import pytest

from bgetune.tools.llm import call_with_retry, count_tokens, extract_json, parse_json_list, retry_info
from bgetune.tools.qa_generation import parse_items


def test_plain_fenced_and_prose_wrapped():
    assert parse_json_list('[{"query": "a b c"}]') == [{"query": "a b c"}]
    fenced = 'Sure! Here you go:\n```json\n[{"query": "how to pin", "kind": "question"}]\n```\nHope it helps.'
    assert parse_json_list(fenced)[0]["query"] == "how to pin"
    prose = 'The queries are [{"query": "x y z", "passage": "p"}] as requested.'
    assert parse_json_list(prose) == [{"query": "x y z", "passage": "p"}]
    wrapped = '{"queries": [{"query": "one two"}, {"query": "three four"}]}'
    assert [o["query"] for o in parse_json_list(wrapped)] == ["one two", "three four"]


def test_truncated_list_salvages_complete_objects():
    text = '```json\n[{"query": "first q", "kind": "question", "passage": "a"}, {"query": "second q", "pass'
    out = parse_json_list(text)
    assert out == [{"query": "first q", "kind": "question", "passage": "a"}]
    two = '[{"query": "q1"}, {"query": "q2"}, {"query": "q3'
    assert [o["query"] for o in parse_json_list(two)] == ["q1", "q2"]


def test_think_block_and_no_json():
    assert extract_json('<think>[not this]</think> [{"query": "real one"}]') == [{"query": "real one"}]
    with pytest.raises(ValueError):
        extract_json("I have no idea what you mean")


def test_parse_items_validates_and_normalises():
    items = parse_items(
        '[{"query": "  apt proxy  config ", "kind": "Keywords"}, {"query": ""}, {"question": "什么是保质期？"}, 7]'
    )
    assert [(i.query, i.kind) for i in items] == [
        ("apt proxy config", "keyword"),
        ("什么是保质期？", "question"),
    ]
    assert parse_items("Sorry, I cannot help with that.") == []
    assert parse_items("[]") == []
    with pytest.raises(ValueError):
        parse_items("blah blah no json here")
    with pytest.raises(ValueError):
        parse_items('[{"foo": 1}]')


class _Err(Exception):
    def __init__(self, status, headers=None):
        super().__init__(f"status {status}")
        self.status_code = status
        self.response = type("R", (), {"headers": headers or {}, "status_code": status})()


def test_retry_policy_honours_retry_after():
    assert retry_info(_Err(429, {"retry-after": "3"})) == (True, 3.0)
    assert retry_info(_Err(502))[0] is True
    assert retry_info(_Err(400))[0] is False
    assert retry_info(TimeoutError())[0] is True
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _Err(429, {"Retry-After": "2"})
        return "ok"

    assert call_with_retry(flaky, max_retries=4, sleep=sleeps.append) == "ok"
    assert sleeps == [2.0, 2.0]
    with pytest.raises(_Err):
        call_with_retry(lambda: (_ for _ in ()).throw(_Err(401)), sleep=sleeps.append)
    with pytest.raises(_Err):
        call_with_retry(lambda: (_ for _ in ()).throw(_Err(500)), max_retries=1, sleep=lambda s: None)


def test_count_tokens_rough():
    assert count_tokens("") == 0
    assert count_tokens("食品安全法") == 5
    assert 2 <= count_tokens("hello world foo") <= 5
