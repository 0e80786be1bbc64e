"""Connectors by transport (files, xlsx, sql, http, geojson) and the mapping file per delivery."""
