"""Imports every module that registers engine loops, job handlers, preparers, gates or listeners.

Both `tidings serve` and `tidings worker` import this, so a capability is either loaded
everywhere or nowhere. Add a module here when it registers something.
"""

# SMS receipts loop and retry job; pricing and country-restriction gates; charge on sent; multi-part ids.
import tidings.engine.imap_poller  # noqa: F401  (IMAP polling and IDLE of mailboxes)
import tidings.engine.maintenance  # noqa: F401  (SQLite planner statistics)
import tidings.engine.receipts  # noqa: F401
import tidings.engine.voice  # noqa: F401  (voice call statuses due later, AMD hang-ups)
import tidings.flows.jobs  # noqa: F401  (fallback flows: step timeout job; the events listener advancing flows)
import tidings.messaging.blacklist  # noqa: F401  (blacklist gate, unsubscribe listener)
import tidings.messaging.email_api.service  # noqa: F401  (email dialect: flags new statuses for status/list)
import tidings.messaging.event_webhooks  # noqa: F401  (account event notifications: POST per event)
import tidings.messaging.notifications  # noqa: F401  (notificationUrl calls on SMS outcomes)
import tidings.messaging.pricing  # noqa: F401
import tidings.messaging.receipts  # noqa: F401
import tidings.messaging.restrictions  # noqa: F401
import tidings.messaging.sms.dispatch  # noqa: F401  (availableTimes gate, splitParts preparer)
import tidings.messaging.validation.jobs  # noqa: F401  (email validation job and its notificationUrl calls)
import tidings.messaging.voice.calls  # noqa: F401  (voice preparer, call outcomes and retries, charging)
import tidings.messaging.whatsapp.jobs  # noqa: F401  (WhatsApp: late statuses, hourly template sync; failedAt listener)
import tidings.outreach.engine.listeners  # noqa: F401  (cold-email engine: enrollment effects, counters)
import tidings.outreach.engine.scheduler  # noqa: F401  (sequence scheduler loop)
import tidings.outreach.engine.sending  # noqa: F401  (mailbox preparer, gate, outcome)
from tidings.engine import dispatcher  # noqa: F401
from tidings.messaging import preparers  # noqa: F401
