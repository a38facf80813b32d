"""Data in and out of a vault: CSV import (and later anonymised export, calendars). No Qt here."""
