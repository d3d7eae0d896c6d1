"""The bot's conversation: answer from the knowledge base, read the verdict, resolve or
hand off (see ``step`` for the rules)."""
