"""Cross-cutting foundations: settings, database, clock, errors, personal-data crypto."""
