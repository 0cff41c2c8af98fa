"""Email mailings of the messaging dialect (POST /api/rest/mailing)."""
