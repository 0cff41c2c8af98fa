"""Spreadsheet-safe CSV cells."""

from __future__ import annotations

import pytest

from tidings.core import csvsafe


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://evil\",\"x\")", "@SUM(A1:A9)", "+cmd|' /C calc'!A0",
                                  "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "=1"])
def test_formula_starts_get_an_apostrophe(text: str) -> None:
    assert csvsafe.cell(text) == "'" + text


@pytest.mark.parametrize("value", ["+34666555444", "-12.5", "1,5", "hello", "a=b", "", 7, -3, 1.5, None, True])
def test_plain_values_and_signed_numbers_stay(value: object) -> None:
    assert csvsafe.cell(value) == value


def test_render_escapes_headers_and_rows() -> None:
    text = csvsafe.render([["name", "=x"], ["@y", "+34666555444"]], lineterminator="\n")
    assert text == "name,'=x\n'@y,+34666555444\n"
