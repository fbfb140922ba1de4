"""Benchmarks (`siyu bench …`): real server processes and load generators printing JSON figures."""
