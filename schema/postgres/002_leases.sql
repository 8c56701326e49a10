-- Leases shared by the replicas of one database: "layer:<digest>" while a replica fetches and
-- analyses that layer (the others wait for its facts), "leader:scheduler" for the one replica
-- that runs registry schedules and reference rescans. A replica that dies stops renewing; its
-- leases lapse at expires_at.
CREATE TABLE leases (
  key        TEXT PRIMARY KEY,
  owner      TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);
