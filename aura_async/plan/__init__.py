"""Pure planning: seed-compatible names and sanitising, templates, selection, the planner."""
