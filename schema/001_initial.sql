-- Ferry's store: connectors, mappings, accounts, message ids across systems, the durable outbox,
-- inbound deduplication and dead letters. Applied by `ferry db migrate` inside one transaction.
-- Documented in docs/schema.md.

-- One configured remote system: a Slack workspace, an SMTP relay, a file sink, ...
CREATE TABLE connectors (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    kind        text NOT NULL CHECK (kind ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    settings    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    enabled     boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TYPE mapping_direction AS ENUM ('in', 'out', 'both');

-- Who talks to whom: an XMPP address (a user's JID or a MUC room) bound to a remote address of a connector.
-- 'out' carries XMPP → remote, 'in' remote → XMPP, 'both' both ways.
CREATE TABLE mappings (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xmpp_address    text NOT NULL CHECK (length(xmpp_address) BETWEEN 3 AND 3071 AND xmpp_address !~ '\s'),
    connector_id    bigint NOT NULL REFERENCES connectors (id) ON DELETE RESTRICT,
    remote_address  text NOT NULL CHECK (length(remote_address) BETWEEN 1 AND 2048),
    direction       mapping_direction NOT NULL DEFAULT 'both',
    options         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    enabled         boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (xmpp_address, connector_id, remote_address)
);
CREATE INDEX mappings_by_remote ON mappings (connector_id, remote_address);

-- A JID's registration with a connector (its mail address, its token). Secrets are encrypted by Ferry with
-- a key from its configuration before they reach this table.
CREATE TABLE accounts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jid                 text NOT NULL CHECK (length(jid) BETWEEN 3 AND 3071 AND jid !~ '[\s/]'),
    connector_id        bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    remote_identity     text NOT NULL CHECK (length(remote_identity) BETWEEN 1 AND 2048),
    secret_ciphertext   bytea,
    settings            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (jid, connector_id)
);

-- One message's ids in every system it crossed, for edits, replies, threads and retractions.
CREATE TABLE message_map (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_key     uuid NOT NULL,            -- Ferry's own id of the message (the outbox idempotency key)
    system          text NOT NULL,            -- 'xmpp' or a connector name
    native_id       text NOT NULL CHECK (length(native_id) BETWEEN 1 AND 1024),
    conversation    text NOT NULL DEFAULT '', -- channel, room or thread the id lives in
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (system, conversation, native_id)
);
CREATE INDEX message_map_by_key ON message_map (message_key);

-- The durable queue. A row is written in the same transaction as whatever acknowledged its input, claimed with
-- FOR UPDATE SKIP LOCKED plus a lease, and deleted once delivered (its ids recorded in message_map) or moved to
-- dead_letters. Rows of one conversation are delivered in id order.
CREATE TABLE outbox (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key     uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    connector_id        bigint NOT NULL REFERENCES connectors (id) ON DELETE RESTRICT,
    conversation        text NOT NULL,
    destination         text NOT NULL,
    payload             jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    lease_owner         text,
    lease_expires_at    timestamptz,
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);
CREATE INDEX outbox_by_conversation ON outbox (conversation, id);
CREATE INDEX outbox_due ON outbox (next_attempt_at);

-- Source ids already accepted, so a retried delivery (same connector, same source id) is not enqueued twice.
CREATE TABLE inbound_seen (
    connector_id    bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
    source_id       text NOT NULL CHECK (length(source_id) BETWEEN 1 AND 1024),
    seen_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector_id, source_id)
);
CREATE INDEX inbound_seen_by_age ON inbound_seen (seen_at);

-- Messages that could not be delivered for good, kept for inspection and `ferry dead-letters retry`.
CREATE TABLE dead_letters (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key     uuid NOT NULL UNIQUE,
    connector_id        bigint NOT NULL REFERENCES connectors (id) ON DELETE RESTRICT,
    conversation        text NOT NULL,
    destination         text NOT NULL,
    payload             jsonb NOT NULL,
    attempts            integer NOT NULL,
    reason              text NOT NULL,
    enqueued_at         timestamptz NOT NULL,
    failed_at           timestamptz NOT NULL DEFAULT now()
);

-- Routing snapshots reload on this payload-less hint; PostgreSQL folds identical notifications of one
-- transaction into one, so a bulk change costs one wake-up.
CREATE FUNCTION ferry_mappings_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ferry_mappings', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER connectors_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON connectors
    FOR EACH STATEMENT EXECUTE FUNCTION ferry_mappings_changed();
CREATE TRIGGER mappings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mappings
    FOR EACH STATEMENT EXECUTE FUNCTION ferry_mappings_changed();
