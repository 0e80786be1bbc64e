"""Unit tests: pure functions and files, no warehouse."""
