"""Settings: frozen dataclasses read from config.toml and validated at start."""
