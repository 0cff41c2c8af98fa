"""Images of the messaging dialect: decoded, verified, re-encoded without metadata, served publicly."""
