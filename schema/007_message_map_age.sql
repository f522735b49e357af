-- message_map grows with every bridged message (its ids on both sides, alert fingerprints, room stanza-ids).
-- Ferry forgets entries older than 90 days, hourly: a correction, reply or resolution naming a message that
-- old arrives as a message of its own. This index keeps that trim from reading the whole table.
CREATE INDEX message_map_by_age ON message_map (created_at);
