"""Voice calls of the messaging dialect: text to speech (/voice) and audio files (/voiceAudio)."""
