"""rtnerf/commands."""
