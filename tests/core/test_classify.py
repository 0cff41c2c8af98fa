"""Tests for inbound mail classification against realistic samples."""

from __future__ import annotations

from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage, Message
from pathlib import Path

import pytest

from tidings.core.classify import classify, references_of, reply_text_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"


def load(name: str) -> Message:
    return message_from_bytes((FIXTURES / name).read_bytes(), policy=policy.default)


def simple(body: str, subject: str = "Re: Quick question", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ann <ann@globex.example>"
    msg["To"] = "sam@acme.example"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


class TestBounces:
    @pytest.mark.parametrize(
        ("fixture", "recipient", "status", "original"),
        [
            ("postfix_dsn.eml", "jdoe@globex.example", "5.1.1", "<3f9a1c0e5b7d4e21a8c6@acme-outreach.com>"),
            ("gmail_dsn.eml", "maria.lopez@initech.example", "5.1.1", "<CAF7x0q1=abc123@mail.gmail.com>"),
            ("exchange_ndr.eml", "peter.gibbons@contoso.example", "5.1.10", "<7c1d0e@acme-outreach.com>"),
            ("exim_bounce.eml", "info@smallbiz.example", "5.7.1", "<aa11bb22@acme-outreach.com>"),
        ],
    )
    def test_hard_bounces(self, fixture: str, recipient: str, status: str, original: str) -> None:
        result = classify(load(fixture))
        assert result.kind == "bounce"
        assert result.bounced_recipients == [recipient]
        assert result.status == status
        assert result.permanent is True
        assert result.original_message_id == original

    def test_dsn_diagnostic_is_unfolded(self) -> None:
        result = classify(load("postfix_dsn.eml"))
        assert result.diagnostic is not None
        assert "User unknown in virtual mailbox table" in result.diagnostic
        assert "  " not in result.diagnostic

    def test_delayed_dsn_is_not_a_bounce(self) -> None:
        result = classify(load("delayed_dsn.eml"))
        assert result.kind != "bounce"
        assert result.kind != "reply"
        assert result.bounced_recipients == []
        assert result.status == "4.4.1"
        assert result.permanent is False

    def test_transient_failure_is_soft_bounce(self) -> None:
        raw = (load("postfix_dsn.eml").as_string()
               .replace("Status: 5.1.1", "Status: 4.2.2"))
        result = classify(message_from_string(raw, policy=policy.default))
        assert result.kind == "bounce"
        assert result.status == "4.2.2"
        assert result.permanent is False

    def test_works_with_compat32_messages(self) -> None:
        msg = message_from_bytes((FIXTURES / "postfix_dsn.eml").read_bytes())
        result = classify(msg)
        assert result.kind == "bounce"
        assert result.bounced_recipients == ["jdoe@globex.example"]

    def test_x_failed_recipients_alone(self) -> None:
        msg = simple("Could not deliver.", subject="Failure", X_Failed_Recipients="a@x.example, B@Y.example")
        result = classify(msg)
        assert result.kind == "bounce"
        assert result.bounced_recipients == ["a@x.example", "b@y.example"]

    def test_daemon_without_bounce_subject_is_not_a_bounce(self) -> None:
        msg = simple("Your mailbox is 90% full.", subject="Quota warning")
        msg.replace_header("From", "MAILER-DAEMON@acme.example")
        assert classify(msg).kind != "bounce"

    def test_human_mentioning_undeliverable_is_not_a_bounce(self) -> None:
        msg = simple("Your last mail was undeliverable to my colleague, try bob@globex.example",
                     subject="Re: Undeliverable")
        assert classify(msg).kind == "reply"


class TestAutoReplies:
    @pytest.mark.parametrize(
        "fixture",
        ["outlook_oof.eml", "gmail_vacation.eml", "spanish_autoreply.eml", "german_autoreply.eml"],
    )
    def test_fixtures(self, fixture: str) -> None:
        assert classify(load(fixture)).kind == "auto_reply"

    @pytest.mark.parametrize(
        "headers",
        [
            {"Auto_Submitted": "auto-replied"},
            {"Auto_Submitted": "auto-generated"},
            {"X_Autoreply": "yes"},
            {"X_Autorespond": "Vacation"},
            {"Precedence": "auto_reply"},
            {"Precedence": "junk"},
        ],
    )
    def test_headers(self, headers: dict[str, str]) -> None:
        assert classify(simple("Thanks, will get back to you.", **headers)).kind == "auto_reply"

    def test_auto_submitted_no_is_human(self) -> None:
        assert classify(simple("Sounds great, let's talk.", Auto_Submitted="no")).kind == "reply"

    @pytest.mark.parametrize(
        "subject",
        [
            "Automatic reply: Quick question",
            "Out of Office: Quick question",
            "Respuesta automática: Propuesta",
            "Fuera de la oficina",
            "Resposta automática: Proposta",
            "Ausente",
            "Absence: Votre proposition",
            "Réponse automatique : Votre proposition",
            "Abwesenheitsnotiz: Ihre Anfrage",
            "Automatische Antwort: Ihre Anfrage",
            "Risposta automatica: Proposta",
            "Fuori ufficio",
            "Afwezig: Uw voorstel",
            "Automatisch antwoord: Uw voorstel",
            "[Auto-Reply] Quick question",
        ],
    )
    def test_subjects_in_several_languages(self, subject: str) -> None:
        assert classify(simple("Back soon.", subject=subject)).kind == "auto_reply"

    def test_outlook_suppress_header_alone_is_a_human_reply(self) -> None:
        assert classify(load("outlook_reply.eml")).kind == "reply"
        msg = simple("Yes please send details.", X_Auto_Response_Suppress="All")
        assert classify(msg).kind == "reply"

    def test_suppress_header_with_oof_subject(self) -> None:
        msg = simple("Back on Monday.", subject="Re: Quick question (out of office)",
                     X_Auto_Response_Suppress="OOF, AutoReply")
        assert classify(msg).kind == "auto_reply"

    @pytest.mark.parametrize(
        "body",
        [
            "I'm currently out of the office until June 10 with limited access to email.",
            "Estoy fuera de la oficina hasta el lunes.",
            "Je suis absente jusqu'au 12 juin.",
            "Ich bin derzeit nicht im Büro.",
            "Sono fuori ufficio fino al 10 giugno.",
            "Ik ben afwezig tot 10 juni.",
            "Estou de férias até dia 10.",
        ],
    )
    def test_out_of_office_body_wording(self, body: str) -> None:
        assert classify(simple(body)).kind == "auto_reply"

    def test_long_human_reply_mentioning_vacation_is_a_reply(self) -> None:
        body = ("Thanks Sam, this looks relevant for us and I'd like to see a demo with my team. " * 8
                + "I'm out of the office next week, so let's aim for the week after.")
        assert classify(simple(body)).kind == "reply"


class TestUnsubscribe:
    def test_fixture(self) -> None:
        result = classify(load("unsubscribe_reply.eml"))
        assert result.kind == "unsubscribe"
        assert result.reply_text == "Please remove me from your list."

    @pytest.mark.parametrize(
        "body",
        [
            "unsubscribe",
            "Unsubscribe me please",
            "STOP",
            "Stop emailing me.",
            "Take me off your list",
            "Not interested, remove me.",
            "Please opt me out",
            "darse de baja",
            "Baja",
            "Por favor, darme de baja",
            "Me désabonner svp",
            "Bitte abmelden",
            "Graag uitschrijven",
            "Per favore cancellami",
        ],
    )
    def test_short_requests(self, body: str) -> None:
        assert classify(simple(body)).kind == "unsubscribe"

    def test_not_interested_alone_is_a_reply(self) -> None:
        assert classify(simple("Not interested, thanks.")).kind == "reply"

    def test_long_message_mentioning_unsubscribe_is_a_reply(self) -> None:
        body = ("Hi Sam, we are evaluating tools and one question: how do your customers handle unsubscribe "
                "links and suppression lists across several mailboxes? Happy to talk on Thursday.")
        assert classify(simple(body)).kind == "reply"

    def test_quoted_unsubscribe_link_does_not_count(self) -> None:
        body = (
            "Sounds good, call me.\n\nOn Tue, Jun 4, 2024 at 9:00 AM Sam <sam@acme.example> wrote:\n"
            "> Unsubscribe"
        )
        assert classify(simple(body)).kind == "reply"


class TestReplies:
    def test_gmail_quote_removed(self) -> None:
        result = classify(load("gmail_reply.eml"))
        assert result.kind == "reply"
        assert "Thursday" in result.reply_text
        assert "10 minutes" not in result.reply_text
        assert "wrote" not in result.reply_text

    def test_outlook_quote_and_signature_removed(self) -> None:
        result = classify(load("outlook_reply.eml"))
        assert result.reply_text.startswith("Hi Sam,")
        assert "another vendor" in result.reply_text
        assert "Sent:" not in result.reply_text
        assert "partnership?" not in result.reply_text

    def test_html_only_reply(self) -> None:
        msg = EmailMessage()
        msg["Subject"] = "Re: hi"
        msg.set_content("<div>Yes, <b>interested</b>.</div>", subtype="html")
        result = classify(msg)
        assert result.kind == "reply"
        assert result.reply_text == "Yes, interested."

    @pytest.mark.parametrize(
        ("body", "expected"),
        [
            ("> only a quote\n> here\n", ""),
            ("Sí.\n\nEl lun, 3 jun 2024 a las 10:00, Bob (<bob@x.example>) escribió:\n> Hola", "Sí."),
            ("Sim.\n\nEm seg., 3 de jun. de 2024 às 10:00, Bob <bob@x.example> escreveu:\n> Olá", "Sim."),
            ("Ja.\n\nAm Mo., 3. Juni 2024 um 10:00 Uhr schrieb Bob <bob@x.example>:\n> Hallo", "Ja."),
        ],
    )
    def test_reply_text_of(self, body: str, expected: str) -> None:
        assert reply_text_of(body) == expected


class TestReferences:
    def test_in_reply_to_then_references_deduplicated(self) -> None:
        msg = load("gmail_reply.eml")
        assert references_of(msg) == [
            "<3f9a1c0e5b7d4e21a8c6@acme-outreach.com>",
            "<1a2b3c@acme-outreach.com>",
        ]

    def test_missing_angle_brackets_are_added(self) -> None:
        msg = Message()
        msg["In-Reply-To"] = "abc@acme.example"
        msg["References"] = "<r1@acme.example>\n <r2@acme.example>"
        assert references_of(msg) == ["<abc@acme.example>", "<r1@acme.example>", "<r2@acme.example>"]

    def test_none(self) -> None:
        assert references_of(Message()) == []
