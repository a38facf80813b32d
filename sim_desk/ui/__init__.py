"""PySide6 desktop client. Calls the records layer's use cases only."""
