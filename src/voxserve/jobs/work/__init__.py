"""What workers do with a task: synthesize segments, assemble chapters, finalize, notify."""
