"""Announcements in the chat: the dialog, the commands and buttons, and how they look."""
