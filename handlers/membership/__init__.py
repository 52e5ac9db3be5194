"""Membership in the chat: joining, help and language, invitations, approval, changes."""
