"""The person workspace and its tabs."""
