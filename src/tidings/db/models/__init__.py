"""Every ORM model, imported here so that metadata and Alembic see all tables."""

from tidings.db.models.account import Account, ApiCredential, User
from tidings.db.models.campaign import Campaign, CampaignMailbox, Step
from tidings.db.models.client import Client, ClientInvitation, ClientMembership
from tidings.db.models.contact import Contact, Enrollment, Group, group_members
from tidings.db.models.counter import StatCounter
from tidings.db.models.flow import Flow, FlowContact, FlowStep
from tidings.db.models.form import Form, FormResponse, StoredAttachment
from tidings.db.models.job import Job
from tidings.db.models.mailbox import Mailbox
from tidings.db.models.message import Event, Message, MessagePart, Sending, Thread
from tidings.db.models.otp import OtpCode
from tidings.db.models.sender import Sender
from tidings.db.models.shortlink import ShortLink
from tidings.db.models.suppression import Suppression
from tidings.db.models.template import Template
from tidings.db.models.validation import EmailValidation, EmailValidationItem, EmailVerdict
from tidings.db.models.voice import VoiceAudio, VoiceCaller
from tidings.db.models.whatsapp import WhatsappConversation, WhatsappSender, WhatsappTemplate

__all__ = [
    "Account",
    "ApiCredential",
    "Campaign",
    "CampaignMailbox",
    "Client",
    "ClientInvitation",
    "ClientMembership",
    "Contact",
    "Enrollment",
    "Event",
    "Flow",
    "FlowContact",
    "FlowStep",
    "Form",
    "FormResponse",
    "Job",
    "Mailbox",
    "Message",
    "MessagePart",
    "OtpCode",
    "Sender",
    "Sending",
    "ShortLink",
    "StatCounter",
    "Step",
    "StoredAttachment",
    "Suppression",
    "Template",
    "Thread",
    "User",
    "EmailValidation",
    "EmailValidationItem",
    "EmailVerdict",
    "WhatsappConversation",
    "WhatsappSender",
    "WhatsappTemplate",
    "VoiceAudio",
    "VoiceCaller",
    "Group",
    "group_members",
]
