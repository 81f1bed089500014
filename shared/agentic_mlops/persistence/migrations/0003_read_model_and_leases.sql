-- The read model of a decision set (its current workflow state, merged from each node's
-- output in the statement that records the node), the resumption of task-token waits
-- decided before their token arrived, and per-connection message budgets.

ALTER TABLE decision_sets ADD COLUMN state jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE INDEX decision_sets_parent_idx ON decision_sets (parent_id, created_at)
    WHERE parent_id IS NOT NULL;
CREATE INDEX decision_sets_unsettled_idx ON decision_sets (updated_at)
    WHERE status IN ('created', 'running', 'awaiting_input', 'awaiting_approval');

ALTER TABLE approvals ADD COLUMN resumed_at timestamptz;
CREATE INDEX approvals_latest_idx ON approvals (decision_set_id, created_at DESC, id DESC);
CREATE INDEX approvals_open_idx ON approvals (created_at) WHERE status = 'pending';

ALTER TABLE connections ADD COLUMN tokens double precision NOT NULL DEFAULT 20;
ALTER TABLE connections ADD COLUMN refilled_at timestamptz NOT NULL DEFAULT now();
