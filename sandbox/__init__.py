"""`cora-bot sandbox`: the real bot against the local Bot API, with an invented network and a web
page on which one acts as any of its people, side by side. Local only; nothing here is real."""
