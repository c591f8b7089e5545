-- Where a catch-up job got to: a provider timestamp and the id of the last object seen there.
CREATE TABLE IF NOT EXISTS cursors (
    name text PRIMARY KEY,
    position_at timestamptz NOT NULL,
    position_id text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
