"""sim_desk.records.vault."""
