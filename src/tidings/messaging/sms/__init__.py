"""SMS of the messaging dialect: accepting `POST /api/rest/sms` and its dispatch-time rules."""
