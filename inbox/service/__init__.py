"""The running service: roles, and the wiring of connectors, pipeline and web."""
