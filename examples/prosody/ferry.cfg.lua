-- Ferry as an external component of Prosody 0.12 (XEP-0114).
-- Put this in /etc/prosody/conf.d/ferry.cfg.lua (or at the end of prosody.cfg.lua), then
-- `prosodyctl reload`. Ferry's [component] section must use the same domain, port and secret.
-- The integration tests run Prosody with exactly these settings (tests/integration/world_prosody.py).

-- The port Ferry connects to. Keep it on loopback unless Ferry runs on another machine:
-- the component protocol has no encryption of its own.
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }

-- Without this, every reply waits ~40 ms for delayed ACKs (Prosody keeps Nagle on by default).
network_settings = { nagle = false }

Component "ferry.example.org"
    component_secret = "change me: a long random string"
    -- Prosody caps component stanzas at 512 KiB; Ferry's own limit (component.max_stanza_size,
    -- 256 KiB by default) should stay below it.

-- Rooms bridged to chat services: with an archive (XEP-0313) Ferry catches up on everything said while it was
-- disconnected, not only the room's last 20 messages of history. On your MUC component:
--   Component "conference.example.org" "muc"
--       modules_enabled = { "muc_mam" }
