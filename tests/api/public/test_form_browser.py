"""A real browser, with JavaScript off, on a phone-sized screen: the form page is filled in and sent as a user would."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Contact
from tidings.messaging import custom_links, senders
from tidings.tenancy.service import NewAccount

from helpers import basic, row_id

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed")


@pytest.fixture
async def served(app: Any) -> AsyncIterator[str]:
    """The test app on a real local port (its lifespan already runs)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(200):  # at most 10 s
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_a_phone_without_javascript_fills_in_and_sends_the_form(
        served: str, client: httpx.AsyncClient, account: NewAccount, db: Database, backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("the page is the same on both databases; one browser run is enough")
    from playwright.async_api import async_playwright

    auth = basic(account.username, account.api_password)
    r = await client.post("/api/rest/form", headers=auth, json={"name": "Survey", "rejectButton": True, "formFields": [
        {"type": "h2", "label": "Tell us"},
        {"type": "text", "label": "Name", "required": True, "customField": "form_name"},
        {"type": "radio", "label": "Score", "required": True, "customField": "score",
         "options": [{"label": "Good", "value": "10"}, {"label": "Bad", "value": "2"}]},
        {"type": "countrySelector", "label": "Country", "customField": "country"},
        {"type": "checkbox", "label": "I agree", "required": True, "customField": "agree"}]})
    form_id = r.json()["data"]["id"]
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test")
    sent = await client.post("/api/rest/mailing", headers=auth, json={
        "to": ["bob@example.test"], "fromEmail": "info@acme.test", "replyTo": "info@acme.test", "subject": "Hi",
        "body": f"[form_{form_id}]"})
    message_id = row_id(Kind.MESSAGE, sent.json()["result"][0]["id"])
    url = custom_links.form_url(served, message_id, form_id)

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run"])
        try:
            context = await browser.new_context(java_script_enabled=False, viewport={"width": 375, "height": 740},
                                                is_mobile=True)
            page = await context.new_page()
            await page.goto(url)
            await page.get_by_role("button", name="Submit").click()
            await page.wait_for_load_state()
            assert await page.get_by_role("alert").count() == 1, "the error summary is announced"
            await page.get_by_label("Name").fill("Bob")
            await page.get_by_label("Good").check()
            await page.get_by_label("Country").select_option("ES")
            await page.get_by_label("I agree").check()
            await page.get_by_role("button", name="Submit").click()
            await page.wait_for_load_state()
            assert await page.get_by_role("heading", name="Thank you!").count() == 1
        finally:
            await browser.close()
    async with db.sessions() as s:
        contact = (await s.execute(select(Contact))).scalar_one()
    assert contact.custom_fields == {"form_name": "Bob", "score": "10", "country": "ES", "agree": "1"}
