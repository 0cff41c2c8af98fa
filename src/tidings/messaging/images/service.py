"""Images of the messaging dialect: base64 jpg/png in, a public unguessable URL out.

Each image is decoded, opened by Pillow with only the declared format's decoder (a PNG sent as
"jpg" is refused), bounded in bytes and pixels before it is decoded, turned upright by its EXIF
orientation, and re-encoded with no metadata but the colour profile (EXIF with GPS and camera
serials, XMP, comments and text chunks are dropped). The file is stored under
`<data_dir>/uploads/<folder>/<name>.<ext>`: the folder is a keyed hash of the account, the name a
keyed hash of the folder and the re-encoded bytes (the same image twice is stored once), so neither
can be guessed. Storage is the local data directory; an S3-compatible bucket is not supported yet.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import anyio
from PIL import Image, ImageOps, UnidentifiedImageError

from tidings.config import Settings

FORMATS: Final = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG"}
SUFFIX: Final = {"JPEG": "jpg", "PNG": "png"}
MEDIA_TYPES: Final = {"jpg": "image/jpeg", "png": "image/png"}
MAX_IMAGES: Final = 100
FOLDER_RE: Final = re.compile(r"^[A-Za-z0-9]{16}$")
FILE_RE: Final = re.compile(r"^[0-9a-f]{64}\.(jpg|png)$")
_DATA_URL: Final = re.compile(r"^data:image/[a-z.+-]+;base64,", re.IGNORECASE)
_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class ImageRejected(ValueError):
    """Why one image cannot be stored (the other images of the request still are)."""


@dataclass(frozen=True)
class Upload:
    external_id: str
    extension: str
    data: str


@dataclass(frozen=True)
class Stored:
    """One image's outcome: its public URL, or why it was refused."""

    external_id: str
    url: str | None
    reason: str | None = None


def upload_root(settings: Settings) -> Path:
    return settings.data_dir / "uploads"


def account_folder(settings: Settings, account_id: int) -> str:
    """16 letters and digits derived from the install secret and the account: stable, not guessable."""
    digest = hmac.digest(settings.resolved_secret_key().encode(), f"images:{account_id}".encode(), "sha256")
    number = int.from_bytes(digest[:12], "big")
    chars = []
    for _ in range(16):
        number, index = divmod(number, 62)
        chars.append(_ALPHABET[index])
    return "".join(chars)


def decode(text: str, max_bytes: int) -> bytes:
    """The bytes of a base64 string (a data: URL prefix and line breaks are tolerated)."""
    compact = "".join(_DATA_URL.sub("", text.strip()).split())
    if not compact:
        raise ImageRejected("base64 is empty")
    if len(compact) // 4 * 3 > max_bytes + 3:
        raise ImageRejected(f"image is larger than {max_bytes} bytes")
    compact += "=" * (-len(compact) % 4)
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRejected("base64 is not valid") from None
    if len(raw) > max_bytes:
        raise ImageRejected(f"image is larger than {max_bytes} bytes")
    return raw


def reencode(raw: bytes, fmt: str, max_pixels: int) -> bytes:
    """The image re-encoded in its own format without metadata; ImageRejected when it is not one."""
    try:
        with Image.open(io.BytesIO(raw), formats=[fmt]) as probe:
            width, height = probe.size
            if width * height > max_pixels:
                raise ImageRejected(f"image has more than {max_pixels} pixels")
            probe.verify()
        with Image.open(io.BytesIO(raw), formats=[fmt]) as source:
            source.load()
            image = ImageOps.exif_transpose(source) or source
            icc = source.info.get("icc_profile")
            transparency = source.info.get("transparency")
            # Pillow carries some of info into save() (comments, text); keep nothing but what renders.
            image.info = {}
            out = io.BytesIO()
            extra: dict[str, object] = {"icc_profile": icc} if icc else {}
            if fmt == "JPEG":
                if image.mode not in ("RGB", "L", "CMYK"):
                    image = image.convert("RGB")
                image.save(out, "JPEG", quality=90, optimize=True, **extra)
            else:
                if transparency is not None and image.mode in ("P", "L", "RGB"):
                    extra["transparency"] = transparency
                image.save(out, "PNG", **extra)
            return out.getvalue()
    except ImageRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise ImageRejected(f"not a {SUFFIX[fmt]} image") from None
    except Exception:  # noqa: BLE001 - crafted input can raise anything from a decoder; it is still bad input
        raise ImageRejected(f"not a valid {SUFFIX[fmt]} image") from None


def _write(folder: Path, name: str, data: bytes) -> None:
    """Atomically: a reader sees the whole file or none (a file of the same name has the same bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.exists():
        return
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_one(settings: Settings, folder: str, upload: Upload) -> Stored:
    """Decode, check, re-encode and store one image; a refusal is a result, not an exception."""
    fmt = FORMATS.get(upload.extension.strip().lower())
    if fmt is None:
        return Stored(upload.external_id, None, "extension must be jpg or png")
    try:
        clean = reencode(decode(upload.data, settings.image_max_bytes), fmt, settings.image_max_pixels)
    except ImageRejected as exc:
        return Stored(upload.external_id, None, str(exc))
    key = settings.resolved_secret_key().encode()
    name = hmac.new(key, folder.encode() + b"\0" + clean, hashlib.sha256).hexdigest() + "." + SUFFIX[fmt]
    _write(upload_root(settings) / folder, name, clean)
    return Stored(upload.external_id, f"{settings.public_url.rstrip('/')}/uploads/{folder}/{name}")


async def store(settings: Settings, account_id: int, uploads: list[Upload]) -> list[Stored]:
    """Every image of a request, in order, off the event loop (decoding is CPU work)."""
    folder = account_folder(settings, account_id)

    def work() -> list[Stored]:
        return [store_one(settings, folder, upload) for upload in uploads]

    return await anyio.to_thread.run_sync(work)


def stored_path(settings: Settings, folder: str, filename: str) -> Path | None:
    """The file behind a public image URL, or None (malformed names never touch the filesystem)."""
    if not FOLDER_RE.match(folder) or not FILE_RE.match(filename):
        return None
    path = upload_root(settings) / folder / filename
    return path if path.is_file() else None
