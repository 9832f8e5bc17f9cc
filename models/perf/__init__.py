"""Performance models: cycles and traffic of a design point on a trace, without simulation."""
