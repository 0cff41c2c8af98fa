"""Omnichannel fallback flows: steps over email, SMS and voice until one is delivered."""
