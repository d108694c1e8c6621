"""Call detail records: one per call, as Asterisk's cdr_csv writes them (and into the store)."""
