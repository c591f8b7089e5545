CREATE TABLE IF NOT EXISTS reconcile_runs (
    id uuid PRIMARY KEY,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    window_days integer NOT NULL,
    fix boolean NOT NULL,
    report jsonb NOT NULL
);
