-- The last moment Ferry bridged something said in a MUC room, per connector seat: after a disconnect or a
-- restart Ferry joins the room asking for its history since then (XEP-0045 §7.2.15), so what was said in XMPP
-- while it was away still reaches the other side. Servers stamp history in whole seconds (Prosody), so the
-- mark is a whole second plus digests of what was bridged within that second: replayed history of that second
-- is recognised, the rest of it is new.
CREATE TABLE room_marks (
    connector_id    bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    room            text NOT NULL CHECK (length(room) BETWEEN 1 AND 3071),
    seen_at         timestamptz NOT NULL,
    seen_keys       text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (connector_id, room)
);
