-- Webhook deliveries as rows, one per (event, URL): a restarted daemon resumes the pending ones
-- where they stood (attempts made, next attempt's time), and what every attempt failed to
-- deliver stays listed (GET /v1/webhooks/deliveries). Times are Unix milliseconds.
CREATE TABLE webhook_deliveries (
  id            BIGSERIAL PRIMARY KEY,
  event_key     TEXT NOT NULL,
  event         TEXT NOT NULL,
  url           TEXT NOT NULL,
  body          TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
  attempts      INTEGER NOT NULL DEFAULT 0,
  next_at       BIGINT NOT NULL,
  claimed_by    TEXT NOT NULL DEFAULT '',
  claimed_until BIGINT NOT NULL DEFAULT 0,
  last_error    TEXT NOT NULL DEFAULT '',
  created_at    BIGINT NOT NULL,
  updated_at    BIGINT NOT NULL,
  UNIQUE (event_key, url)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_at);
CREATE INDEX webhook_deliveries_by_state ON webhook_deliveries(state, id);
CREATE INDEX webhook_deliveries_ended ON webhook_deliveries(updated_at) WHERE state <> 'pending';
