"""Access: sources with write keys and API tokens with roles."""
