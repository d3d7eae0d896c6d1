"""HTML pages shared by the web channels and the web app: templates, static files, rendering."""
