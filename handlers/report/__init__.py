"""The network report in the chat: the command, and its text, CSV and picture."""
