-- pbxedge's additions to Asterisk's Realtime tables. Each statement may be run again.
-- Asterisk keeps reading the table: it passes unknown columns to chan_iax2's option parser,
-- which ignores them.

-- The node a peer registered to (iax.conf rtsavesysname=yes writes its systemname), so
-- that any node can reach a peer registered to another one.
ALTER TABLE iaxfriends ADD COLUMN IF NOT EXISTS regserver VARCHAR(40);

