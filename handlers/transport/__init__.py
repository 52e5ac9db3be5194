"""How messages leave and updates arrive: outbox, live messages, rate limiter, back-pressure,
webhook and probes, HTTP API."""
