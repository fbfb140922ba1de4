"""Consent and unsubscribe state per customer, channel and purpose."""
