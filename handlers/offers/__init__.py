"""Telegram adapters for the support system: offers, free places, /find and needs."""
