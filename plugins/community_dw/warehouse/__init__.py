"""Warehouse access: the embedded server, connections, migrations and bulk loading."""
