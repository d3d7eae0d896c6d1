"""The staff web app and the one HTTP server: auth, agent API, desk, supervisor, live feed."""
