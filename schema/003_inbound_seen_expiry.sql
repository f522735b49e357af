-- A source id may be remembered for a while only: an Alertmanager notification resent after a timed-out
-- POST is a duplicate, the same notification sent again as a repeat_interval reminder hours later is not.
-- NULL keeps the id for good (Slack event ids, Matrix transaction ids, Telegram update ids).
ALTER TABLE inbound_seen ADD COLUMN expires_at timestamptz;
