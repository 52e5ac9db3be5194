"""Topical channels in the chat."""
