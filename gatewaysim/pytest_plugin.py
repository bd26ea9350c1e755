"""The gatewaysim pytest plugin (collects failure files as regression tests; fixtures)."""
