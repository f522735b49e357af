-- Rooms that archive their messages (XEP-0313 MAM) give each one a stanza-id (XEP-0359). The id of the last
-- message a connector seat bridged lets its next join ask the archive for everything after it, however much was
-- said meanwhile, instead of the room's short history. Empty: the room gave none (history `since` then).
ALTER TABLE room_marks ADD COLUMN archive_id text NOT NULL DEFAULT '' CHECK (length(archive_id) <= 1024);
