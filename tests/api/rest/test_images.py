"""Image generator (/api/rest/images/generate) and the public /uploads URLs it answers with."""

from __future__ import annotations

import base64
import io
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image, PngImagePlugin

from tidings.tenancy.service import NewAccount

from helpers import basic

URL = "/api/rest/images/generate"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


def _jpeg_with_metadata() -> bytes:
    image = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = image.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees to display
    exif[0x010F] = "SecretCam"  # Make
    exif[0xA431] = "SERIAL-1234"  # BodySerialNumber
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"private comment")
    return out.getvalue()


def _png_with_metadata(size: tuple[int, int] = (8, 6)) -> bytes:
    image = Image.new("P", size, 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Secret")
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, transparency=0)
    return out.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _generate(client: httpx.AsyncClient, auth: dict[str, str], *images: dict[str, Any]) -> list[dict[str, Any]]:
    r = await client.post(URL, json={"images": list(images)}, headers=auth)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def test_images_are_reencoded_without_metadata_and_served(client: httpx.AsyncClient,
                                                                auth: dict[str, str]) -> None:
    jpeg, png_bytes = _b64(_jpeg_with_metadata()), _b64(_png_with_metadata())
    data = await _generate(client, auth, {"externalId": "test1", "extension": "jpg", "base64": jpeg},
                           {"externalId": "test2", "extension": "png", "base64": png_bytes})
    assert [list(d) for d in data] == [["externalId", "imageUrl", "error"]] * 2, "the documented keys"
    assert [d["externalId"] for d in data] == ["test1", "test2"] and not any(d["error"] for d in data)
    jpg, png = (urlsplit(d["imageUrl"]) for d in data)
    assert jpg.netloc == "tidings.test" and jpg.path.startswith("/uploads/") and jpg.path.endswith(".jpg")
    folder, name = jpg.path.split("/")[2:]
    assert len(folder) == 16 and len(name) == 64 + 4, "the document's URL shape: folder and a 64-hex name"
    assert png.path.endswith(".png") and png.path.split("/")[2] == folder

    r = await client.get(jpg.path)
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert "immutable" in r.headers["cache-control"] and r.headers["x-content-type-options"] == "nosniff"
    served = Image.open(io.BytesIO(r.content))
    assert served.format == "JPEG" and served.size == (20, 40), "turned upright before the EXIF went"
    assert dict(served.getexif()) == {} and "comment" not in served.info
    assert b"SecretCam" not in r.content and b"SERIAL-1234" not in r.content and b"private comment" not in r.content

    r = await client.get(png.path)
    assert r.headers["content-type"] == "image/png"
    served = Image.open(io.BytesIO(r.content))
    assert served.format == "PNG" and served.size == (8, 6) and "Author" not in served.info
    assert b"Jane Secret" not in r.content and served.info.get("transparency") == 0, "transparency kept"

    again = await _generate(client, auth, {"externalId": "x", "extension": "JPG", "base64": jpeg})
    assert again[0]["imageUrl"] == data[0]["imageUrl"], "the same image is stored once"


async def test_each_bad_image_is_its_own_error(app: Any, client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    png = _b64(_png_with_metadata())
    truncated = _b64(_jpeg_with_metadata()[:60])
    bomb = _b64(_png_with_metadata((8000, 6000)))  # 48 Mpx in a few kB
    data = await _generate(
        client, auth,
        {"externalId": "ok", "extension": "png", "base64": png},
        {"externalId": "png-as-jpg", "extension": "jpg", "base64": png},
        {"externalId": "gif", "extension": "gif", "base64": png},
        {"externalId": "garbage", "extension": "png", "base64": "not base64 at all!"},
        {"externalId": "text", "extension": "png", "base64": _b64(b"hello, I am not a picture")},
        {"externalId": "truncated", "extension": "jpg", "base64": truncated},
        {"externalId": "bomb", "extension": "png", "base64": bomb},
        {"externalId": "empty", "extension": "png", "base64": ""},
        {"externalId": "data-url", "extension": "png", "base64": "data:image/png;base64," + png},
    )
    errors = {d["externalId"]: d for d in data if d["error"]}
    assert [d["externalId"] for d in data if not d["error"]] == ["ok", "data-url"]
    assert set(errors) == {"png-as-jpg", "gif", "garbage", "text", "truncated", "bomb", "empty"}
    assert all(d["imageUrl"] is None and d["reason"] for d in errors.values())
    assert errors["png-as-jpg"]["reason"] == "not a jpg image"
    assert errors["gif"]["reason"] == "extension must be jpg or png"
    assert "pixels" in errors["bomb"]["reason"]

    app.state.settings.image_max_bytes = 100
    try:
        [big] = await _generate(client, auth, {"externalId": "big", "extension": "png", "base64": png})
    finally:
        app.state.settings.image_max_bytes = 5 * 1024 * 1024
    assert big["error"] is True and "larger than 100 bytes" in big["reason"]


@pytest.mark.parametrize("body", [
    {}, {"images": []}, {"images": "x"}, {"images": [{"externalId": "a", "extension": "png"}]},
    {"images": [{"externalId": "a", "extension": "png", "base64": 5}]},
    {"images": [{"externalId": "a", "extension": "png", "base64": "x"}] * 101},
])
async def test_bad_requests_are_422(client: httpx.AsyncClient, auth: dict[str, str], body: dict[str, Any]) -> None:
    r = await client.post(URL, json=body, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == 422


async def test_accounts_get_their_own_folder_and_names_are_not_guessable(
        client: httpx.AsyncClient, auth: dict[str, str], make_account: Any) -> None:
    image = {"externalId": "a", "extension": "png", "base64": _b64(_png_with_metadata())}
    [mine] = await _generate(client, auth, image)
    other = await make_account("Other", "owner@other.test")
    [theirs] = await _generate(client, basic(other.username, other.api_password), image)
    assert urlsplit(mine["imageUrl"]).path.split("/")[2] != urlsplit(theirs["imageUrl"]).path.split("/")[2]
    assert urlsplit(mine["imageUrl"]).path.split("/")[3] != urlsplit(theirs["imageUrl"]).path.split("/")[3]
    folder = urlsplit(mine["imageUrl"]).path.split("/")[2]
    for path in (f"/uploads/{folder}/{'0' * 64}.png", f"/uploads/{folder}/..%2F..%2F.tidings_secret",
                 "/uploads/../../etc/passwd", f"/uploads/{folder}/x.gif", "/uploads/short/abc.png"):
        assert (await client.get(path)).status_code == 404, path
    assert (await client.post(URL, json={"images": [image]}, headers=basic("x", "y"))).status_code == 401
