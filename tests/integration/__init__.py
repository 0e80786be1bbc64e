"""Integration tests: the package code against a real PostgreSQL (and real HTTP/SQL sources)."""
