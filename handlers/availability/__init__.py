"""Availability in the chat: absences with deputies, quiet hours, further regions."""
