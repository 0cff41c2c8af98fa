"""SMS encodings, part counting and splitting against the 360nrs annex tables."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.core import sms
from tidings.core.sms import (
    SmsLength,
    UnencodableText,
    count_parts,
    detect_encoding,
    encode,
    fits,
    split_parts,
    translate,
    validate_sender,
)

# The annex tables transcribed as printed: one row per low nibble, columns 0x00..0x70.
# Control names: LF, CR, SP, ESC.
ANNEX_GSM_BASIC = [
    ["@", "Δ", "SP", "0", "¡", "P", "¿", "p"],
    ["£", "_", "!", "1", "A", "Q", "a", "q"],
    ["$", "Φ", '"', "2", "B", "R", "b", "r"],
    ["¥", "Γ", "#", "3", "C", "S", "c", "s"],
    ["è", "Λ", "¤", "4", "D", "T", "d", "t"],
    ["é", "Ω", "%", "5", "E", "U", "e", "u"],
    ["ù", "Π", "&", "6", "F", "V", "f", "v"],
    ["ì", "Ψ", "'", "7", "G", "W", "g", "w"],
    ["ò", "Σ", "(", "8", "H", "X", "h", "x"],
    ["Ç", "Θ", ")", "9", "I", "Y", "i", "y"],
    ["LF", "Ξ", "*", ":", "J", "Z", "j", "z"],
    ["Ø", "ESC", "+", ";", "K", "Ä", "k", "ä"],
    ["ø", "Æ", ",", "<", "L", "Ö", "l", "ö"],
    ["CR", "æ", "-", "=", "M", "Ñ", "m", "ñ"],
    ["Å", "ß", ".", ">", "N", "Ü", "n", "ü"],
    ["å", "É", "/", "?", "O", "§", "o", "à"],
]
ANNEX_GSM_PT_BASIC = [
    ["@", "Δ", "SP", "0", "Í", "P", "~", "p"],
    ["£", "_", "!", "1", "A", "Q", "a", "q"],
    ["$", "ª", '"', "2", "B", "R", "b", "r"],
    ["¥", "Ç", "#", "3", "C", "S", "c", "s"],
    ["ê", "À", "º", "4", "D", "T", "d", "t"],
    ["é", "∞", "%", "5", "E", "U", "e", "u"],
    ["ú", "^", "&", "6", "F", "V", "f", "v"],
    ["í", "\\", "'", "7", "G", "W", "g", "w"],
    ["ó", "€", "(", "8", "H", "X", "h", "x"],
    ["ç", "Ó", ")", "9", "I", "Y", "i", "y"],
    ["LF", "|", "*", ":", "J", "Z", "j", "z"],
    ["Ô", "ESC", "+", ";", "K", "Ã", "k", "ã"],
    ["ô", "Â", ",", "<", "L", "Õ", "l", "õ"],
    ["CR", "â", "-", "=", "M", "Ú", "m", "`"],
    ["Á", "Ê", ".", ">", "N", "Ü", "n", "ü"],
    ["á", "É", "/", "?", "O", "§", "o", "à"],
]
# Extended tables as printed: the annex lists, per row (low nibble), the characters present in it.
ANNEX_GSM_EXTENDED_ROWS = {
    0x0: ["|"], 0x4: ["^"], 0x5: ["€"], 0x8: ["{"], 0x9: ["}"], 0xA: ["FF"], 0xB: ["SS2"],
    0xC: ["["], 0xD: ["CR2", "~"], 0xE: ["]"], 0xF: ["\\"],
}  # fmt: skip
ANNEX_GSM_PT_EXTENDED_ROWS = {
    0x0: ["|"], 0x1: ["À", "Â"], 0x2: ["Φ"], 0x3: ["Γ"], 0x4: ["^"], 0x5: ["ê", "Ω", "Ú", "€", "ú"],
    0x6: ["Π"], 0x7: ["Ψ"], 0x8: ["Σ", "{"], 0x9: ["ç", "Θ", "}", "Í", "í"], 0xA: ["FF"],
    0xB: ["Ô", "SS2", "Ã", "ã"], 0xC: ["ô", "[", "Õ", "õ"], 0xD: ["CR2", "~"], 0xE: ["Á", "]"],
    0xF: ["á", "Ê", "\\", "Ó", "ó", "â"],
}  # fmt: skip
_NAMES = {"LF": "\n", "CR": "\r", "SP": " ", "FF": "\x0c"}


def _char(cell: str) -> str:
    return _NAMES.get(cell, cell)


def _basic_chars(table: list[list[str]]) -> str:
    return "".join(_char(c) for row in table for c in row if c != "ESC")


GSM_BASIC = _basic_chars(ANNEX_GSM_BASIC)
GSM_PT_BASIC = _basic_chars(ANNEX_GSM_PT_BASIC)
GSM_EXT_ONLY = "^{}\\[~]|€\x0c"
GSM_PT_EXT_ONLY = "{}[]ΦΓΩΠΨΣΘ\x0c"


# --- the tables ------------------------------------------------------------------------------


@pytest.mark.parametrize("low", range(16))
@pytest.mark.parametrize("high", range(8))
def test_gsm_basic_matches_annex_code_points(high: int, low: int) -> None:
    cell = ANNEX_GSM_BASIC[low][high]
    if cell == "ESC":
        return
    assert _char(cell).encode("gsm03.38") == bytes([high * 16 + low])


@pytest.mark.parametrize("low", range(16))
@pytest.mark.parametrize("high", range(8))
def test_gsm_pt_basic_matches_annex_code_points(high: int, low: int) -> None:
    cell = ANNEX_GSM_PT_BASIC[low][high]
    code = high * 16 + low
    expected = "\x1b" if cell == "ESC" else _char(cell)
    assert sms.GSM_PT_BASIC[code] == expected
    if cell != "ESC":
        assert encode(expected, "gsm-pt") == bytes([code])


def test_gsm_pt_extended_rows_match_annex() -> None:
    rows: dict[int, set[str]] = {}
    for ch, code in sms.GSM_PT_EXTENDED.items():
        rows.setdefault(code & 0x0F, set()).add(ch)
    annex = {
        low: {_char(c) for c in cells if c not in ("SS2", "CR2")}
        for low, cells in ANNEX_GSM_PT_EXTENDED_ROWS.items()
    }
    assert {k: v for k, v in rows.items() if v} == {k: v for k, v in annex.items() if v}


def test_gsm_extended_rows_match_annex() -> None:
    for low, cells in ANNEX_GSM_EXTENDED_ROWS.items():
        for cell in cells:
            if cell in ("SS2", "CR2"):
                continue
            encoded = _char(cell).encode("gsm03.38")
            assert encoded[0] == 0x1B and encoded[1] & 0x0F == low, cell


@pytest.mark.parametrize("ch", list(GSM_BASIC))
def test_gsm_basic_chars_cost_one(ch: str) -> None:
    assert count_parts(ch, "gsm").units == 1


@pytest.mark.parametrize("ch", list(GSM_EXT_ONLY))
def test_gsm_extension_chars_cost_two(ch: str) -> None:
    assert count_parts(ch, "gsm").units == 2
    assert encode(ch, "gsm")[0] == 0x1B


@pytest.mark.parametrize("ch", list(GSM_PT_BASIC))
def test_gsm_pt_basic_chars_cost_one(ch: str) -> None:
    assert count_parts(ch, "gsm-pt").units == 1


@pytest.mark.parametrize("ch", list(GSM_PT_EXT_ONLY))
def test_gsm_pt_extension_only_chars_cost_two(ch: str) -> None:
    assert count_parts(ch, "gsm-pt").units == 2
    assert encode(ch, "gsm-pt") == bytes([0x1B, sms.GSM_PT_EXTENDED[ch]])


def test_gsm_pt_differs_from_gsm() -> None:
    # Portuguese letters are single septets in gsm-pt but not representable in gsm.
    for ch in "êúíóçÔôÁáªÀ∞ÓÂâÊºÍÃÕÚã`õ":
        assert fits(ch, "gsm-pt"), ch
        assert not fits(ch, "gsm"), ch
    # Characters basic in gsm but dropped from gsm-pt.
    for ch in "èùìòØøÅåΛΞÆæ¡ÄÖÑ¿äöñ\u00df\u00a4":
        assert fits(ch, "gsm"), ch
        assert not fits(ch, "gsm-pt"), ch
    # Extension characters of gsm that gsm-pt holds in its basic table.
    for ch in "^\\|€~":
        assert count_parts(ch, "gsm").units == 2
        assert count_parts(ch, "gsm-pt").units == 1


def test_escape_character_itself_is_not_text() -> None:
    assert not fits("\x1b", "gsm")
    assert not fits("\x1b", "gsm-pt")


# --- counting ---------------------------------------------------------------------------------


def test_count_single_and_multi_part_boundaries() -> None:
    assert count_parts("a" * 160, "gsm") == SmsLength("gsm", 160, 1, 160)
    assert count_parts("a" * 161, "gsm") == SmsLength("gsm", 161, 2, 153)
    assert count_parts("a" * 306, "gsm").parts == 2
    assert count_parts("a" * 307, "gsm").parts == 3
    assert count_parts("é" * 70, "utf-16") == SmsLength("utf-16", 70, 1, 70)
    assert count_parts("é" * 71, "utf-16") == SmsLength("utf-16", 71, 2, 67)
    assert count_parts("a" * 134, "utf-16").parts == 2
    assert count_parts("a" * 135, "utf-16").parts == 3
    assert count_parts("ç" * 160, "gsm-pt").parts == 1


def test_empty_text_has_no_parts() -> None:
    assert count_parts("", "gsm") == SmsLength("gsm", 0, 0, 160)
    assert split_parts("", "utf-16") == []


def test_extension_chars_count_twice_in_single_part_limit() -> None:
    assert count_parts("€" * 80, "gsm") == SmsLength("gsm", 160, 1, 160)
    assert count_parts("€" * 80 + "a", "gsm").parts == 2


def test_escape_pair_not_split_adds_a_part() -> None:
    # 152 basic septets then '€': the pair cannot straddle the 153 boundary.
    text = "a" * 152 + "€" + "a" * 152
    assert count_parts(text, "gsm").units == 306
    parts = split_parts(text, "gsm")
    assert parts == ["a" * 152, "€" + "a" * 151, "a"]
    assert count_parts(text, "gsm").parts == 3


def test_surrogate_pair_counts_two_and_is_not_split() -> None:
    emoji = "\U0001f600"
    assert count_parts(emoji, "utf-16").units == 2
    text = "a" * 66 + emoji + "b" * 10
    assert split_parts(text, "utf-16") == ["a" * 66, emoji + "b" * 10]


def test_unknown_encoding_rejected() -> None:
    with pytest.raises(ValueError):
        count_parts("x", "ucs2")


def test_unencodable_text_reports_position() -> None:
    with pytest.raises(UnencodableText) as info:
        count_parts("ok ✓", "gsm")
    assert info.value.position == 3
    assert info.value.char == "✓"


def test_lone_surrogate_not_representable_in_utf16() -> None:
    assert not fits("a\ud800", "utf-16")


def test_detect_encoding() -> None:
    assert detect_encoding("Hola, ¿qué tal? 10€") == "gsm"
    assert detect_encoding("Olá, tudo bem?") == "utf-16"
    assert detect_encoding("") == "gsm"


def test_encode_outputs() -> None:
    assert encode("A€", "gsm") == b"A\x1be"
    assert encode("A€", "gsm-pt") == b"A\x18"
    assert encode("A\U0001f600", "utf-16") == "A\U0001f600".encode("utf-16-be")


# --- properties -------------------------------------------------------------------------------

_GSM_ALL = GSM_BASIC + GSM_EXT_ONLY
_GSM_PT_ALL = GSM_PT_BASIC + GSM_PT_EXT_ONLY


def _check_split(text: str, encoding: str) -> None:
    parts = split_parts(text, encoding)
    length = count_parts(text, encoding)
    assert "".join(parts) == text
    assert len(parts) == length.parts
    for part in parts:
        assert part
        assert count_parts(part, encoding).units <= length.per_part_limit
    if length.parts > 1:
        # Greedy: nothing from the next part would have fitted into this one.
        for part, nxt in zip(parts, parts[1:], strict=False):
            units = count_parts(part, encoding).units
            assert units + sms.char_units(nxt[0], encoding) > length.per_part_limit


@settings(max_examples=200)
@given(st.text(alphabet=GSM_BASIC, max_size=2500))
def test_basic_gsm_parts_formula(text: str) -> None:
    length = count_parts(text, "gsm")
    assert length.units == len(text)
    if len(text) == 0:
        assert length.parts == 0
    elif len(text) <= 160:
        assert length.parts == 1
    else:
        assert length.parts == math.ceil(len(text) / 153)


@settings(max_examples=200)
@given(st.text(alphabet=_GSM_ALL, max_size=1200))
def test_gsm_units_count_extensions_twice(text: str) -> None:
    ext = sum(ch in GSM_EXT_ONLY for ch in text)
    assert count_parts(text, "gsm").units == len(text) + ext
    assert count_parts(text, "gsm").units == len(encode(text, "gsm"))
    _check_split(text, "gsm")


@settings(max_examples=200)
@given(st.text(alphabet=_GSM_PT_ALL, max_size=1200))
def test_gsm_pt_split_properties(text: str) -> None:
    ext = sum(ch in GSM_PT_EXT_ONLY for ch in text)
    assert count_parts(text, "gsm-pt").units == len(text) + ext == len(encode(text, "gsm-pt"))
    _check_split(text, "gsm-pt")


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=600))
def test_utf16_split_properties(text: str) -> None:
    assert count_parts(text, "utf-16").units == len(text.encode("utf-16-be")) // 2
    _check_split(text, "utf-16")
    for part in split_parts(text, "utf-16"):
        part.encode("utf-16-be")  # never a cut surrogate pair


@given(st.text(alphabet=GSM_BASIC, min_size=161, max_size=1000))
def test_basic_split_part_sizes(text: str) -> None:
    parts = split_parts(text, "gsm")
    assert all(len(p) == 153 for p in parts[:-1])
    assert 1 <= len(parts[-1]) <= 153


@given(st.text(max_size=300))
def test_detect_encoding_always_fits(text: str) -> None:
    encoding = detect_encoding(text)
    if encoding == "gsm" or not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        assert fits(text, encoding)


# --- trans and sender -------------------------------------------------------------------------


def test_translate_table_from_seed() -> None:
    assert translate("áíóúç ÁÍÓÚ ÀÈÌÒÙ 1º 2ª Õõ âêîôû ÂÊÎÔÛ ãÃ") == "aiouÇ AIOU AEIOU 1 2 Oo aeiou AEIOU aA"


def test_translate_leaves_other_characters() -> None:
    assert translate("é à ñ ü Ç €") == "é à ñ ü Ç €"


def test_translate_makes_portuguese_gsm() -> None:
    text = "Promoção: não perca, até às 20h! Informações"
    assert not fits(text, "gsm")
    assert translate(text) == "PromoÇao: nao perca, até às 20h! InformaÇoes"
    assert fits(translate(text), "gsm")


@pytest.mark.parametrize(
    ("sender", "ok"),
    [
        ("TEST", True),
        ("Tidings2024", True),
        ("Tidings20245", False),
        ("346665554441234", True),
        ("3466655544412345", False),
        ("12345678901234", True),
        ("", False),
        ("My Shop", False),
        ("+34666555444", False),
        ("Açaí", False),
    ],
)
def test_validate_sender(sender: str, ok: bool) -> None:
    assert validate_sender(sender) is ok
