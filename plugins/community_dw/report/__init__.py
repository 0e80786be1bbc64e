"""Offline HTML reports per community."""
