"""Audio of voice calls: files fetched for /voiceAudio, and text rendered to speech with espeak-ng.

A fetched file goes through the outbound address guard (tidings.messaging.netguard) with a size
and a time limit, and must be MP3, WAV or AIFF by its bytes (what Twilio's <Play> accepts); the
three magic numbers are checked here rather than with a file-type library. Text to speech runs the
espeak-ng program (Debian package) into a temporary WAV file.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx

from tidings.messaging import netguard
from tidings.messaging.voice.languages import espeak_voice

MAX_BYTES: Final = 10 * 1024 * 1024
FETCH_SECONDS: Final = 15.0
TTS_SECONDS: Final = 30.0
MAX_URL: Final = 2000
EXTENSIONS: Final = {"audio/mpeg": "mp3", "audio/wav": "wav", "audio/aiff": "aiff"}


class AudioError(Exception):
    """The audio cannot be used: `code` 133 (cannot be fetched) or 134 (not a supported format)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Fetched:
    data: bytes
    content_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def sniff(data: bytes) -> str | None:
    """The content type of MP3, WAV or AIFF bytes; None for anything else."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if len(data) >= 12 and data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if data[:3] == b"ID3":
        return "audio/mpeg"
    # A bare MPEG audio frame: 11 sync bits, then a layer that is not the reserved 00 (layer III is 01).
    if len(data) >= 2 and data[0] == 0xFF and (data[1] & 0xE0) == 0xE0 and (data[1] & 0x06) != 0:
        return "audio/mpeg"
    return None


async def fetch(url: str, *, allow_private: bool, max_bytes: int = MAX_BYTES,
                seconds: float = FETCH_SECONDS) -> Fetched:
    """Download an audio URL within the limits; AudioError 133 or 134 when it cannot be used."""
    if len(url) > MAX_URL or any(c.isspace() for c in url):
        raise AudioError(133, "the audioUrl is not a valid URL")
    try:
        netguard.check_static(url, allow_private)
    except netguard.UnsafeUrl as exc:
        raise AudioError(133, str(exc)) from None
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(seconds), netguard.client(allow_private, timeout=seconds) as client, \
                client.stream("GET", url, headers={"User-Agent": "Tidings-Voice/1"}) as response:
            if response.status_code != 200:
                raise AudioError(133, f"the audioUrl answered HTTP {response.status_code}")
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise AudioError(133, f"the audio is larger than {max_bytes // (1024 * 1024)} MB")
                chunks.append(chunk)
    except netguard.UnsafeUrl as exc:
        raise AudioError(133, str(exc)) from None
    except TimeoutError:
        raise AudioError(133, f"the audioUrl did not answer within {seconds:g} seconds") from None
    except httpx.InvalidURL:
        raise AudioError(133, "the audioUrl is not a valid URL") from None
    except httpx.HTTPError as exc:
        raise AudioError(133, f"the audioUrl cannot be fetched ({type(exc).__name__})") from None
    data = b"".join(chunks)
    content_type = sniff(data)
    if content_type is None:
        raise AudioError(134, "the audio is not MP3, WAV or AIFF")
    return Fetched(data, content_type)


def new_token() -> str:
    """The unguessable path segment of a kept audio file's public URL."""
    return secrets.token_urlsafe(24)


async def speak(text: str, language: str, gender: str) -> bytes:
    """The text spoken by espeak-ng as a WAV (16-bit mono, 22,050 Hz); RuntimeError when it fails."""
    with tempfile.TemporaryDirectory(prefix="tidings-tts-") as tmp:
        out = Path(tmp) / "speech.wav"
        try:
            process = await asyncio.create_subprocess_exec(
                "espeak-ng", "-v", espeak_voice(language, gender), "--stdin", "-w", str(out),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise RuntimeError(f"espeak-ng cannot run: {exc}") from None
        try:
            _, err = await asyncio.wait_for(process.communicate(text.encode()), TTS_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise RuntimeError("espeak-ng took too long") from None
        if process.returncode != 0 or not out.exists():
            raise RuntimeError(f"espeak-ng failed: {err.decode(errors='replace')[:200]}")
        return out.read_bytes()
