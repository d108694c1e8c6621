"""``pbxedge load``: an IAX2 load generator built on the protocol core and the media layer."""
