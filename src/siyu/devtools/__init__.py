"""Tools for development, tests and benchmarks (a throwaway PostgreSQL server)."""
