"""Benchmarks of the course's training pipelines (run the scripts; nothing here runs on import)."""
