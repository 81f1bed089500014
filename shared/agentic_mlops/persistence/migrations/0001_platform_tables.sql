-- The platform's own tables; LangGraph's checkpoint tables are created by PostgresSaver.setup().

CREATE TABLE projects (
    id          text PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE decision_sets (
    id              text PRIMARY KEY,
    project_id      text NOT NULL REFERENCES projects(id),
    parent_id       text REFERENCES decision_sets(id),
    request         text NOT NULL,
    status          text NOT NULL,
    version         integer NOT NULL DEFAULT 1,
    last_event_seq  bigint NOT NULL DEFAULT 0,
    commit_sha      text,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decision_sets_project_idx ON decision_sets (project_id, created_at);

CREATE TABLE events (
    decision_set_id text NOT NULL REFERENCES decision_sets(id) ON DELETE CASCADE,
    seq             bigint NOT NULL,
    type            text NOT NULL,
    node            text,
    payload         jsonb NOT NULL,
    step            integer,
    checkpoint_id   text,
    dedupe_key      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (decision_set_id, seq),
    UNIQUE (decision_set_id, dedupe_key)
);
CREATE INDEX events_type_idx ON events (decision_set_id, type, seq);

CREATE TABLE agent_runs (
    key             text PRIMARY KEY,
    decision_set_id text NOT NULL REFERENCES decision_sets(id) ON DELETE CASCADE,
    node            text NOT NULL,
    input_hash      text NOT NULL,
    status          text NOT NULL CHECK (status IN ('succeeded', 'failed')),
    output          jsonb,
    error           text,
    executions      integer NOT NULL DEFAULT 1,
    duration_ms     double precision,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_runs_ds_idx ON agent_runs (decision_set_id, node);

CREATE TABLE jobs (
    id               text PRIMARY KEY,
    decision_set_id  text NOT NULL REFERENCES decision_sets(id) ON DELETE CASCADE,
    engine           text NOT NULL,
    action           text NOT NULL,
    status           text NOT NULL,
    stream_abandoned boolean NOT NULL DEFAULT false,
    error            text,
    started_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX jobs_ds_idx ON jobs (decision_set_id, started_at);

CREATE TABLE approvals (
    id               text PRIMARY KEY,
    decision_set_id  text NOT NULL REFERENCES decision_sets(id) ON DELETE CASCADE,
    kind             text NOT NULL CHECK (kind IN ('question', 'approval')),
    wait_key         text NOT NULL,
    status           text NOT NULL CHECK (status IN ('pending', 'decided', 'expired')),
    request          jsonb NOT NULL,
    response         jsonb,
    decided_by       text,
    task_token       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    decided_at       timestamptz,
    UNIQUE (decision_set_id, wait_key)
);
CREATE INDEX approvals_pending_idx ON approvals (decision_set_id) WHERE status = 'pending';
