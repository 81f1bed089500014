-- WebSocket connections and their subscriptions (API Gateway WebSocket API or the local
-- server), and the notifications sent for a wait (Slack messages).

CREATE TABLE connections (
    id           text PRIMARY KEY,
    user_name    text NOT NULL,
    grants       jsonb NOT NULL DEFAULT '[]'::jsonb,
    endpoint     text NOT NULL,
    connected_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscriptions (
    connection_id   text NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    decision_set_id text NOT NULL REFERENCES decision_sets(id) ON DELETE CASCADE,
    delivered_seq   bigint NOT NULL DEFAULT 0,
    subscribed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, decision_set_id)
);
CREATE INDEX subscriptions_ds_idx ON subscriptions (decision_set_id);

ALTER TABLE approvals ADD COLUMN notifications jsonb NOT NULL DEFAULT '{}'::jsonb;
