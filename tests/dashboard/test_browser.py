"""The dashboard in a real browser against a real server, as an agency uses it every day.

Sign in, generate an API token and call the API with it, create a campaign with a step, import
contacts through the column mapping and the progress bar, start it against a real SMTP server, see
a reply arrive in the inbox and mark it positive, read the chart's real numbers, and check that a
client's user sees only its own client's campaigns.
"""

from __future__ import annotations

import re
import smtplib
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from .conftest import Server, shot
from smtp_sink import smtp_sink

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


def wait_for(check: Callable[[], Any], seconds: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def reload_until(page: Page, check: Callable[[], Any], seconds: float, what: str) -> None:
    """Load the page again until the check holds (what the engine does happens in its own time)."""
    from playwright.sync_api import Error as PlaywrightError

    url = page.url

    def fresh() -> Any:
        try:
            page.goto(url, wait_until="load")
            return check()
        except PlaywrightError:  # a navigation cut short by the next one: try again
            return None

    wait_for(fresh, seconds, what)


def set_password_via_link(page: Page, link: str, password: str) -> None:
    page.goto(link)
    page.get_by_label("New password").fill(password)
    page.get_by_label("Repeat it").fill(password)
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def sign_in(page: Page, url: str, email: str, password: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def reply_to(original: EmailMessage, sender: str, text: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, str(original["From"])
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = "<reply-1@globex.test>"
    msg["In-Reply-To"] = msg["References"] = str(original["Message-ID"])
    msg.set_content(f"{text}\n\n> {original.get_body(('plain',)).get_content()[:60]}")
    return msg


def test_agency_day_in_the_dashboard(server: Server, browser: Any, tmp_path: Path) -> None:
    owner = server.account("Acme Agency", "owner@acme.test")
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()

    # The owner sets a password from the link `account create` printed, then signs in again with it.
    set_password_via_link(page, owner["password_link"], "correct-horse-battery")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, server.url, "owner@acme.test", "wrong-password-123")
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    sign_in(page, server.url, "owner@acme.test", "correct-horse-battery")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # Third Party Integrations: Generate API token, shown once, and it works on the outreach API.
    nav(page, "Integrations")
    page.get_by_label("Name").fill("CRM sync")
    page.get_by_role("button", name="Generate API token").click()
    token = page.locator("#new-secret").inner_text().strip()
    assert token.startswith("tdg_")
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert api.get("/api/v1/campaigns").status_code == 200
    shot(page, "integrations")
    page.reload()
    assert token not in page.content()

    # Two clients, created in the dashboard.
    for name in ("Globex", "Initech"):
        nav(page, "Clients")
        page.get_by_label("Name").fill(name)
        page.get_by_label("Mailboxes allowed").fill("5")
        page.get_by_role("button", name="Create client").click()
        expect(page.get_by_role("heading", name=name)).to_be_visible()
    initech_url = page.url

    with smtp_sink() as sink:
        # A mailbox on a real SMTP server, and a connection test that really connects.
        nav(page, "Mailboxes")
        page.get_by_label("Email address").fill("sam@acme.test")
        page.get_by_label("Sender name").fill("Sam")
        page.get_by_label("Client").select_option(label="Globex")
        page.get_by_label("Seconds between sends").fill("0")
        page.get_by_label("Daily limit").fill("100")
        page.get_by_label("SMTP host").fill("127.0.0.1")
        page.locator("#smtp_port").fill(str(sink.port))
        page.locator("#smtp_security").select_option("none")
        page.get_by_role("button", name="Add mailbox").click()
        page.get_by_role("button", name="Test the connection of sam@acme.test").click()
        expect(page.get_by_role("status")).to_contain_text("SMTP: connected and signed in")
        shot(page, "mailboxes")

        # A campaign with one step, an all-day schedule and the mailbox, built in the browser.
        nav(page, "Campaigns")
        page.get_by_label("Name").fill("Founders Q1")
        page.get_by_label("Client").select_option(label="Globex")
        page.get_by_label("Time zone").fill("UTC")
        page.get_by_role("button", name="Create campaign").click()
        expect(page.get_by_role("heading", name=re.compile("Founders Q1"))).to_be_visible()
        page.get_by_label("Subject", exact=True).fill("Question for {{company}}")
        page.get_by_label("Body", exact=True).fill("Hi {{first_name}},\nare you the right person to talk to?")
        # The live preview renders the step with a sample contact while the campaign has none.
        expect(page.locator('[data-preview="subject"]').first).to_have_text("Question for Globex")
        page.get_by_text("A/B test: add variant B").click()
        page.get_by_label("Variant B body").fill("Hey {{first_name}}, who handles growth at {{company}}?")
        expect(page.locator('[data-preview="subject"]')).to_have_count(2)
        page.get_by_role("button", name="Add step").click()
        expect(page.get_by_role("status")).to_have_text("Step added.")
        for day in ("Sat", "Sun"):
            page.get_by_label(day).check()
        page.locator("#wstart").fill("00:00")
        page.locator("#wend").fill("23:59")
        page.get_by_role("button", name="Save schedule").click()
        page.get_by_label(re.compile("sam@acme.test")).check()
        page.get_by_role("button", name="Save mailboxes").click()
        expect(page.get_by_role("status")).to_have_text("Mailboxes saved.")

        # Contacts from a CSV: map the columns, follow the progress bar to the end.
        csv_path = tmp_path / "contacts.csv"
        rows = ["E-mail,First Name,Company,Favourite colour", "ana@globex.test,Ana,Globex,blue",
                "bo@globex.test,Bo,Globex,green", "not-an-address,Cy,Globex,red"]
        rows += [f"lead{i}@prospects.test,Lead{i},Prospect {i},grey" for i in range(2500)]
        csv_path.write_text("\n".join(rows) + "\n")
        page.get_by_label("Import contacts from CSV").set_input_files(str(csv_path))
        page.get_by_role("button", name="Upload and map columns").click()
        expect(page.get_by_role("heading", name="Map the columns")).to_be_visible()
        expect(page.get_by_label("E-mail imports as")).to_have_value("email")
        expect(page.get_by_label("Favourite colour imports as")).to_have_value("custom")
        shot(page, "import-mapping")
        page.get_by_role("button", name=re.compile("Import 2,503 contacts")).click()
        expect(page.get_by_text("Import finished")).to_be_visible(timeout=60_000)
        assert page.locator("#import-progress").get_attribute("value") == "100"
        expect(page.get_by_text("created 2502 · updated 0 · invalid 1")).to_be_visible()
        page.get_by_role("link", name="Back to the campaign").click()

        page.get_by_role("button", name="Start").click()
        expect(page.get_by_role("status")).to_have_text("Campaign started.")
        first = wait_for(lambda: next((r for r in sink.received if "ana@globex.test" in r.recipients), None),
                         what="the first email at the SMTP server")
        assert first.message["Subject"] == "Question for Globex"

        # Ana answers; the reply reaches Tidings' inbound SMTP listener and shows in the inbox.
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as smtp:
            smtp.send_message(reply_to(first.message, "ana@globex.test", "Yes, let's talk next week."),
                              to_addrs=["sam@acme.test"])
        nav(page, "Inbox")
        reload_until(page, lambda: "let's talk next week" in page.content(), 30, "the reply in the inbox")
        shot(page, "inbox")
        page.get_by_role("link", name=re.compile("ana@globex.test")).click()
        expect(page.get_by_text("Yes, let's talk next week.")).to_be_visible()
        page.get_by_role("button", name="Positive").click()
        expect(page.get_by_text("Interest:")).to_contain_text("positive")

        # Our answer goes out through the mailbox's SMTP, threaded under Ana's reply.
        page.get_by_label(re.compile("Answer ana@globex.test")).fill("Great: Tuesday at 10?")
        page.get_by_role("button", name="Send answer").click()
        expect(page.get_by_role("status")).to_have_text("Your answer is on its way.")
        answer = wait_for(lambda: next((r for r in sink.received if b"Tuesday at 10" in r.data), None),
                          what="our answer at the SMTP server")
        assert answer.message["In-Reply-To"] == "<reply-1@globex.test>"
        assert answer.message["Subject"] == "Re: Question for Globex"
        shot(page, "thread")

        # The inbox filtered by interest: her reply is under Positive, not under Negative.
        page.goto(f"{server.url}/inbox?interest=POSITIVE")
        assert "let's talk next week" in page.content()
        page.goto(f"{server.url}/inbox?interest=NEGATIVE")
        assert "let's talk next week" not in page.content()

    # The campaign page: totals and the chart drawn from the real counters.
    nav(page, "Campaigns")
    page.get_by_role("link", name="Founders Q1").click()
    founders_campaign = page.url
    expect(page.locator('[data-kpi="replied"]')).to_have_text("1")
    expect(page.locator('[data-kpi="positive"]')).to_have_text("1")
    sent = int(page.locator('[data-kpi="messages_sent"]').inner_text())
    assert sent >= 1
    assert page.locator('svg.chart polyline[data-series="sent"], svg.chart circle').count() > 0
    assert page.locator("svg.chart title", has_text=re.compile(r"replied \d{4}-\d\d-\d\d: 1")).count() == 1
    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    exported = Path(download.value.path()).read_text()
    assert exported.startswith("id,email,") and "ana@globex.test" in exported and "POSITIVE" in exported
    shot(page, "campaign")
    nav(page, "Overview")
    expect(page.locator('[data-kpi="replied"]')).to_have_text("1")
    shot(page, "overview")

    # A client's user, invited with view_campaigns on Initech only, never sees Globex's campaign.
    page.goto(initech_url)
    page.get_by_label("Email").fill("mike@initech.test")
    page.get_by_role("button", name="Create invitation").click()
    link = page.locator("#invitation-link").inner_text().strip()
    assert "/invitations/inv_" in link
    guest = browser.new_context().new_page()
    guest.goto(link)
    guest.get_by_label("Your name").fill("Mike")
    guest.get_by_label("Password").fill("initech-password-1")
    guest.get_by_label("Repeat it").fill("initech-password-1")
    guest.get_by_role("button", name="Join and sign in").click()
    expect(guest.get_by_role("heading", name="Overview")).to_be_visible()
    nav(guest, "Campaigns")
    expect(guest.get_by_text("Founders Q1")).to_have_count(0)
    expect(guest.get_by_role("button", name="Create campaign")).to_have_count(0)
    response = guest.goto(founders_campaign)
    assert response is not None and response.status == 404, guest.content()[-1500:]
    guest.goto(f"{server.url}/inbox")
    expect(guest.get_by_text("let's talk next week")).to_have_count(0)


def test_signed_out_pages_redirect_and_forms_need_their_csrf_token(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as web:
        first = web.get("/campaigns")
        assert first.status_code == 303 and first.headers["location"] == "/login?next=/campaigns"
        assert web.get("/static/dashboard/htmx.min.js").status_code == 200
        forged = web.post("/login", data={"email": "owner@acme.test", "password": "x" * 12})
        assert forged.status_code == 403
        login = web.get("/login")
        assert "HttpOnly" in login.headers["set-cookie"] and "SameSite=lax" in login.headers["set-cookie"]


def test_sign_in_attempts_are_throttled(server: Server) -> None:
    server.account("Acme Agency", "owner@acme.test")
    with httpx.Client(base_url=server.url, timeout=10) as web:
        csrf = re.search(r'name="csrf" value="([^"]+)"', web.get("/login").text)
        assert csrf is not None
        codes = [web.post("/login", data={"email": "owner@acme.test", "password": f"guess-{i:06d}",
                                          "csrf": csrf.group(1)}).status_code for i in range(12)]
    # The API's budget (TIDINGS_SIGNIN_FAILURES_PER_USER, 10 in 10 minutes for one email from one address).
    assert codes[:10] == [401] * 10
    assert codes[-1] == 429


def test_messaging_user_sends_an_sms_and_follows_it(server: Server, browser: Any) -> None:
    owner = server.account("Shop", "ops@shop.test")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    set_password_via_link(page, owner["password_link"], "shop-password-123")

    # The part counter and the estimate follow the text as it is typed.
    nav(page, "Send SMS")
    page.get_by_label("From (up to 11 letters, or a number)").fill("Shop")
    page.get_by_label("To (one number a line, international format)").fill("+34666555444\n+34666555445\nnope")
    page.get_by_label("Message").fill("x" * 161)
    expect(page.locator('[data-est="parts"]')).to_have_text("2")
    expect(page.locator('[data-est="valid"]')).to_have_text("2")
    page.get_by_label("Message").fill("Your order has shipped ✅")
    page.get_by_label("Campaign name (optional)").fill("Shipping")
    page.get_by_label("Tags (comma-separated)").fill("orders, transactional")
    expect(page.locator('[data-est="parts"]')).to_have_text("1")
    expect(page.locator("#estimate")).to_contain_text("utf-16")
    shot(page, "send-sms")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_contain_text("Some recipients were refused")
    expect(page.get_by_role("status")).to_contain_text("accepted")

    # The message log finds it by recipient, with what happened to it (the sandbox delivers).
    nav(page, "Message log")
    page.get_by_label("Recipient (the whole address or number)").fill("+34 666 555 444")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("cell", name="34666555444", exact=True)).to_be_visible()
    page.locator("table a").first.click()
    expect(page.get_by_role("heading", name=re.compile("SMS to 34666555444"))).to_be_visible()
    reload_until(page, lambda: "delivered" in page.locator(".timeline").inner_text(), 30, "the delivery event")

    # The sendings page charts the events of the campaigns with a tag.
    nav(page, "Sendings")
    page.get_by_label("Tag").select_option("orders")
    page.get_by_role("button", name="Show").click()
    delivered_two = page.locator("svg.chart title", has_text=re.compile(r"delivered \d{4}-\d\d-\d\d: 2"))
    reload_until(page, lambda: delivered_two.count() == 1, 30, "both deliveries in the chart")
    expect(page.get_by_role("heading", name=re.compile("Shipping"))).to_be_visible()
    shot(page, "sendings")

    # A blacklisted number is refused the next time.
    nav(page, "Blacklists")
    page.get_by_label("Phone number").fill("+34666555444")
    page.get_by_role("button", name="Add to the sms blacklist").click()
    expect(page.get_by_role("cell", name="34666555444", exact=True)).to_be_visible()

    # A template, saved and previewed.
    nav(page, "Templates")
    page.get_by_label("Name").fill("Welcome")
    page.get_by_label("HTML").fill("<h1>Welcome aboard</h1>")
    page.get_by_role("button", name="Save template").click()
    expect(page.frame_locator("iframe.preview").get_by_role("heading", name="Welcome aboard")).to_be_visible()
    page.get_by_text("Edit this template").click()
    page.locator("#ehtml").fill("<h1>Welcome back</h1>")
    page.get_by_role("button", name="Save changes").click()
    expect(page.frame_locator("iframe.preview").get_by_role("heading", name="Welcome back")).to_be_visible()

    # A scheduled SMS is listed and can be cancelled.
    nav(page, "Send SMS")
    page.get_by_label("From (up to 11 letters, or a number)").fill("Shop")
    page.get_by_label("To (one number a line, international format)").fill("+34666555446")
    page.get_by_label("Message").fill("See you tomorrow")
    page.get_by_label("Send at (optional, UTC)").fill("2030-01-02T10:00")
    page.get_by_role("button", name="Send").click()
    nav(page, "Scheduled")
    expect(page.get_by_role("cell", name="34666555446", exact=True)).to_be_visible()
    page.get_by_label("New time for the message to 34666555446").fill("2031-03-04T09:30")
    page.get_by_role("button", name="Move the message to 34666555446").click()
    expect(page.get_by_role("cell", name="04 Mar 2031 09:30")).to_be_visible()
    page.get_by_role("button", name="Cancel the message to 34666555446").click()
    expect(page.get_by_text("Nothing scheduled.")).to_be_visible()


def test_settings_send_a_test_event_to_the_notification_url(server: Server, browser: Any) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from urllib.parse import parse_qs

    got: list[tuple[dict[str, list[str]], str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            got.append((parse_qs(body), self.headers.get("X-Tidings-Signature", "")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        owner = server.account("Shop", "ops@shop.test")
        page = browser.new_context().new_page()
        set_password_via_link(page, owner["password_link"], "shop-password-123")
        nav(page, "Settings")
        page.get_by_label("Notification URL").fill(f"http://127.0.0.1:{receiver.server_port}/hook")
        page.get_by_role("button", name="Save URL").click()
        expect(page.get_by_role("status")).to_contain_text("signed with whsec_")
        page.get_by_role("button", name="Send a test event").click()
        expect(page.get_by_role("status")).to_contain_text("test event is on its way")
        fields, signature = wait_for(lambda: got[0] if got else None, 30, "the test notification")
        assert fields["event"] == ["test"] and signature
        shot(page, "settings")
    finally:
        receiver.shutdown()


def test_contacts_and_groups_of_the_messaging_database(server: Server, browser: Any) -> None:
    owner = server.account("Shop", "ops@shop.test")
    page = browser.new_context().new_page()
    set_password_via_link(page, owner["password_link"], "shop-password-123")
    nav(page, "Contacts")
    page.get_by_label("New group").fill("VIP")
    page.get_by_role("button", name="Create group").click()
    page.get_by_label("Email", exact=True).fill("ana@shop.test")
    page.get_by_label("Phone", exact=True).fill("666 555 447")
    page.get_by_label("Country (ISO)").fill("ES")
    page.get_by_label("Name", exact=True).fill("Ana")
    page.locator("#c-group").select_option(label="VIP")
    page.get_by_role("button", name="Save contact").click()
    expect(page.get_by_role("status")).to_have_text("Contact added.")
    page.get_by_label("Email", exact=True).fill("ana@shop.test")
    page.get_by_label("Name", exact=True).fill("Ana María")
    page.get_by_role("button", name="Save contact").click()
    expect(page.get_by_role("status")).to_have_text("Contact updated (same email).")
    page.locator("#group").select_option(label="VIP")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("cell", name="34666555447", exact=True)).to_be_visible()
    page.get_by_role("link", name="Ana María").click()
    expect(page.get_by_text("VIP")).to_be_visible()
    shot(page, "contact")


def test_forms_and_whatsapp_templates_are_listed(server: Server, browser: Any) -> None:
    owner = server.account("Shop", "ops@shop.test")
    api = httpx.Client(base_url=server.url, auth=(owner["username"], owner["api_password"]), timeout=10)
    created = api.post("/api/rest/form", json={"name": "Survey", "editable": False, "formFields": [
        {"type": "text", "name": "city", "label": "Your city", "required": True}]})
    assert created.status_code == 201, created.text
    server.cli("whatsapp", "template-add", "--account", str(owner["account_id"]), "--name", "order_update",
               "--language", "es", "--body", "Hola {{1}}, tu pedido {{2}} ha salido")
    page = browser.new_context().new_page()
    set_password_via_link(page, owner["password_link"], "shop-password-123")
    nav(page, "Forms")
    page.get_by_role("link", name="Survey").click()
    expect(page.frame_locator("iframe.preview").get_by_label(re.compile("Your city"))).to_be_visible()
    nav(page, "WhatsApp")
    expect(page.get_by_role("cell", name="order_update")).to_be_visible()



def test_a_mailing_from_the_form_goes_out_from_a_verified_sender(server: Server, browser: Any) -> None:
    owner = server.account("Shop", "ops@shop.test")
    server.cli("sender", "add", "--account", str(owner["account_id"]), "news@shop.test")
    page = browser.new_context().new_page()
    set_password_via_link(page, owner["password_link"], "shop-password-123")
    nav(page, "Send mailing")
    page.get_by_label("To (one address a line)").fill("ana@example.com\nnot-an-address")
    page.get_by_label("Subject").fill("Our spring catalogue")
    page.get_by_label("Body (HTML)").fill("<p>Hello!</p>")
    page.get_by_role("button", name="Send mailing").click()
    expect(page.get_by_role("status")).to_contain_text("Some recipients were refused")
    nav(page, "Message log")
    expect(page.get_by_role("cell", name="ana@example.com", exact=True)).to_be_visible()


def test_a_step_is_edited_and_deleted_in_the_browser(server: Server, browser: Any) -> None:
    owner = server.account("Steps Agency", "owner@steps.test")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    set_password_via_link(page, owner["password_link"], "steps-password-123")
    nav(page, "Clients")
    page.get_by_label("Name").fill("Umbrella")
    page.get_by_label("Mailboxes allowed").fill("2")
    page.get_by_role("button", name="Create client").click()
    nav(page, "Campaigns")
    page.get_by_label("Name").fill("Two steps")
    page.get_by_label("Client").select_option(label="Umbrella")
    page.get_by_label("Time zone").fill("UTC")
    page.get_by_role("button", name="Create campaign").click()
    for subject, body in (("First hello", "Hi {{first_name}}"), ("Second nudge", "Any thoughts, {{first_name}}?")):
        page.get_by_label("Subject", exact=True).fill(subject)
        page.get_by_label("Body", exact=True).fill(body)
        page.get_by_role("button", name="Add step").click()
        expect(page.get_by_role("status")).to_have_text("Step added.")

    # Edit step 1: new texts, a variant B and its delay; the page shows the saved step.
    page.get_by_text("Edit step 1").click()
    page.get_by_label("Step 1 subject").fill("First hello, {{company}}")
    page.get_by_label("Step 1 body", exact=True).fill("Hello {{first_name}} at {{company}}")
    page.get_by_label("Step 1 variant B body (empty: no variant)").fill("Hey {{first_name}}")
    page.get_by_role("button", name="Save step 1").click()
    expect(page.get_by_role("status")).to_have_text("Step 1 saved.")
    steps = page.locator("ol.steps > li")
    expect(steps.nth(0).locator(".subject")).to_have_text("First hello, {{company}}")
    expect(steps.nth(0).locator("table.variants")).to_be_visible()

    # A step that cannot be sent is refused with the reason, and nothing changes.
    page.get_by_text("Edit step 2").click()
    page.get_by_label("Step 2 body", exact=True).fill("   ")
    page.get_by_role("button", name="Save step 2").click()
    expect(page.get_by_role("alert")).to_contain_text("The body field is required.")
    expect(steps.nth(1).locator(".subject")).to_have_text("Second nudge")

    # Delete step 1: the second step moves up.
    page.get_by_text("Edit step 1").click()
    page.get_by_role("button", name="Delete step 1").click()
    expect(page.get_by_role("status")).to_have_text("Step 1 deleted.")
    expect(steps).to_have_count(1)
    expect(steps.nth(0)).to_contain_text("Step 1")
    expect(steps.nth(0).locator(".subject")).to_have_text("Second nudge")
