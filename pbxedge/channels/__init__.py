"""Call legs as the dialplan sees them (``dialplan.channel.Channel`` implementations)."""
