CREATE INDEX ASYNC IF NOT EXISTS alerts_last_raised_idx ON alerts (last_raised_at);
