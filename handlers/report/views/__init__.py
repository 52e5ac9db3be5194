"""The network report as the reader gets it: text lines (Telegram HTML), CSV tables and heat map
pictures, in the reader's language, with small numbers masked everywhere."""
