"""The knowledge base's articles: Markdown files with front matter, read and checked."""
