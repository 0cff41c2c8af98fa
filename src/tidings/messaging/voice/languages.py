"""The document's voice languages, which of them have only a female voice, and their espeak-ng voices."""

from __future__ import annotations

from typing import Final

# code: (espeak-ng voice, female only). The document marks cmn_CN, arb and hi_IN "available only in female gender".
LANGUAGES: Final[dict[str, tuple[str, bool]]] = {
    "en_GB": ("en-gb", False),
    "en_US": ("en-us", False),
    "es_ES": ("es", False),
    "es_US": ("es-419", False),
    "pt_PT": ("pt", False),
    "pt_BR": ("pt-br", False),
    "cmn_CN": ("cmn", True),
    "arb": ("ar", True),
    "de_DE": ("de", False),
    "fr_FR": ("fr-fr", False),
    "it_IT": ("it", False),
    "hi_IN": ("hi", True),
}
GENDERS: Final = ("F", "M")
# The omnichannel dialect's Voice step names no language: its document is Brazilian.
DEFAULT_LANGUAGE: Final = "pt_BR"
DEFAULT_GENDER: Final = "F"


def espeak_voice(language: str, gender: str) -> str:
    """The espeak-ng -v argument, with a female or male variant."""
    voice = LANGUAGES.get(language, LANGUAGES[DEFAULT_LANGUAGE])[0]
    return f"{voice}+{'m3' if gender == 'M' else 'f3'}"
