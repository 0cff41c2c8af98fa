"""The URL shortener API and the public redirect of its links."""

from __future__ import annotations

import httpx

from tidings.tenancy.service import NewAccount

from helpers import basic


async def test_shorten_as_documented_and_follow(client: httpx.AsyncClient, account: NewAccount) -> None:
    auth = basic(account.username, account.api_password)
    body = {"urls": [{"longUrl": "https://example.com/test1"}, {"longUrl": "https://example.com/test2"},
                     {"longUrl": "invalidUrl"}]}
    r = await client.post("/api/rest/shortener/shorten", json=body, headers=auth)
    assert r.status_code == 200
    data = r.json()["data"]
    assert [d["longUrl"] for d in data] == ["https://example.com/test1", "https://example.com/test2", "invalidUrl"]
    assert [d["error"] for d in data] == [False, False, True]
    assert data[2]["shortUrl"] is None
    first, second = data[0]["shortUrl"], data[1]["shortUrl"]
    assert first.startswith("http://tidings.test/s/") and first != second
    again = (await client.post("/api/rest/shortener/shorten", json={"urls": [{"longUrl": "https://example.com/test1"}]},
                               headers=auth)).json()["data"][0]["shortUrl"]
    assert again == first, "the same URL keeps its short link"
    r = await client.get(first.removeprefix("http://tidings.test"), follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://example.com/test1"
    assert (await client.get("/s/doesnotexi")).status_code == 404


async def test_shortener_bad_input_is_4xx(client: httpx.AsyncClient, account: NewAccount) -> None:
    auth = basic(account.username, account.api_password)
    for body in ({}, {"urls": []}, {"urls": "x"}, {"urls": [{"nope": 1}]}):
        r = await client.post("/api/rest/shortener/shorten", json=body, headers=auth)
        assert r.status_code == 422 and r.json()["error"]["code"] == 422, body
    assert (await client.post("/api/rest/shortener/shorten", json={"urls": []})).status_code == 401
