"""Audio checks by their bytes, the address guard on audio fetches, and espeak-ng for every document language."""

from __future__ import annotations

import pytest

from tidings.messaging.voice import audio
from tidings.messaging.voice.languages import LANGUAGES


def test_formats_are_told_by_their_bytes() -> None:
    assert audio.sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "audio/wav"
    assert audio.sniff(b"FORM\x00\x00\x00\x00AIFFCOMM") == "audio/aiff"
    assert audio.sniff(b"ID3\x04\x00rest") == "audio/mpeg"
    assert audio.sniff(b"\xff\xfb\x90\x64" + bytes(10)) == "audio/mpeg"
    for other in (b"", b"<html>", b"OggS\x00\x02", b"RIFF\x00\x00\x00\x00AVI ", b"\xff\xe1"):
        assert audio.sniff(other) is None


async def test_private_and_malformed_addresses_are_refused_before_any_request() -> None:
    for url in ("http://127.0.0.1/a.mp3", "http://localhost/a.mp3", "http://10.0.0.1/a.wav", "file:///etc/passwd",
                "ftp://example.com/a.mp3", "http://[::1]/a.mp3"):
        with pytest.raises(audio.AudioError) as caught:
            await audio.fetch(url, allow_private=False)
        assert caught.value.code == 133


@pytest.mark.parametrize("language", list(LANGUAGES))
async def test_every_language_is_spoken_to_a_wav(language: str) -> None:
    wav = await audio.speak("Tidings 123", language, "F")
    assert audio.sniff(wav) == "audio/wav" and len(wav) > 2000
