"""Dialogs that gather what a user types and hand it to one records-layer use case."""
