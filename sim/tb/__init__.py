"""sim/tb."""
