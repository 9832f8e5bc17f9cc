"""Directed and random test cases, written once and shared by every verification level."""
