"""Channels: one `Channel` protocol, a registry, and adapters for WeCom, SMS, email, webhook and tests.

See `docs/channels.md` for configuring each channel and adding a new one.
"""
