"""Data in and out of a vault. No Qt here: the GUI wizards and the CLI call the same functions.

* :mod:`.csv_import` and :mod:`.mappings`: all-or-nothing CSV import, with column mappings saved
  per source;
* :mod:`.export`, :mod:`.anonymise`, :mod:`.aggregates`, :mod:`.dictionary`: the anonymised
  export for analysts;
* :mod:`.calendar`: planned visits as an iCalendar file;
* :mod:`.files`: atomic, owner-only writing of what leaves the vault.
"""
