"""Time helpers: dates as people write them, calendar files, quiet hours, the scheduler."""
