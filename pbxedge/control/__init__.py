"""The control console: a Unix socket in the state dir, a command registry, commands."""
