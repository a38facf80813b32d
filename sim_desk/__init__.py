"""SIM Desk: encrypted case management for Serenity Integrated Mentoring teams."""

__version__ = "0.1.0"
