"""Drills in the chat."""
