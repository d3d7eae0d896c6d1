"""Channel connectors: one module per channel, each satisfying the Connector protocol."""
