"""The ``inbox`` command, one module per command family."""
