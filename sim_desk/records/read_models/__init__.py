"""sim_desk.records.read_models."""
