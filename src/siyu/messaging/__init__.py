"""Messaging: the contact-pressure governor (consent, caps, quiet hours, quotas) and message templates.

Pure cores; the outbox and the channels (`siyu.channels`) do the I/O around them.
"""
