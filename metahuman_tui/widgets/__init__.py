"""Reusable widgets and the small UI-free helpers they draw from (line index, filters, events)."""
