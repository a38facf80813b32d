"""sim_desk.records.team."""
