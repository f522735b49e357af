-- A source that fetches (Telegram's getUpdates poller; IMAP mailbox watchers) runs in one Ferry process of a
-- deployment: the one whose owner name is in its row and whose lease has not run out. The holder renews the
-- lease every few seconds; another process takes the source over once it expires. `progress` is the source's
-- cursor (Telegram's next offset, a mailbox's UIDVALIDITY and next UID), moved by the holder only after what it
-- covers is committed to the outbox, so a takeover or a restart goes on from there.
CREATE TABLE source_leases (
    source       text PRIMARY KEY,
    owner        text,
    lease_until  timestamptz,
    progress     text NOT NULL DEFAULT '',
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((owner IS NULL) = (lease_until IS NULL))
);
