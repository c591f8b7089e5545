-- Alerts to the owner, one row per dedupe key: a repeat inside the cool-down is only counted.
CREATE TABLE IF NOT EXISTS alerts (
    dedupe_key text PRIMARY KEY,
    severity text NOT NULL CHECK (severity IN ('security', 'ops')),
    kind text NOT NULL,
    order_id uuid,
    message text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_raised_at timestamptz NOT NULL DEFAULT now(),
    occurrences bigint NOT NULL DEFAULT 1
);
