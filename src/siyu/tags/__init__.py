"""Tag taxonomy: groups by category and kind, customer tags with history, rule tags."""
