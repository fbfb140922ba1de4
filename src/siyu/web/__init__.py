"""Web edge: the ASGI app, shared dependencies, the console."""
