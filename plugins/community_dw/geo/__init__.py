"""Geometry: grid assignment of buildings, facility distances."""
