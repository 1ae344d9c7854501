"""One way to read pair ids, for the chat, the UI's id box and the CLI: lists, '#12', ranges in en and zh."""

from __future__ import annotations

import pytest

from bgetune.core.text import MAX_ID_RANGE, parse_ids


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("3, 5 7", [3, 5, 7]),
        ("#12 #3", [12, 3]),
        ("1-4, 9", [1, 2, 3, 4, 9]),
        ("3 to 5", [3, 4, 5]),
        ("5到8", [5, 6, 7, 8]),
        ("2~3 2", [2, 3]),
        ("9-7", [9, 7]),  # not a range: both ids as given
        ("9-0", [9, 0]),  # not a range either: 0 is kept like any other id
        ("v2.3 id3", []),  # digits inside words are not ids
        ("", []),
        (None, []),
    ],
)
def test_ids_and_ranges(text, ids):
    assert parse_ids(text) == ids


def test_a_range_is_bounded():
    assert parse_ids(f"1-{MAX_ID_RANGE + 5}") == [1, MAX_ID_RANGE + 5]


def test_the_ui_id_box_reads_ranges_too():
    from bgetune.ui.widgets import parse_ids as ui_parse

    assert ui_parse("12, 3-5") == [3, 4, 5, 12]


def test_the_cli_help_shows_a_range():
    from typer.testing import CliRunner

    from bgetune.cli import app

    out = CliRunner().invoke(app, ["review", "reject", "--help"], env={"COLUMNS": "200"}).output
    assert "Ranges too: 12-30" in out
