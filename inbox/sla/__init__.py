"""SLAs: business hours, policies per team and priority, and the watcher."""
