CREATE INDEX ASYNC IF NOT EXISTS reconcile_runs_started_idx ON reconcile_runs (started_at);
