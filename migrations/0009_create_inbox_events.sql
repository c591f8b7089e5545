-- Each provider event is processed once: its id is claimed in the same transaction as its effect.
CREATE TABLE IF NOT EXISTS inbox_events (
    source text NOT NULL CHECK (source IN ('stripe', 'printful')),
    event_id text NOT NULL,
    event_type text NOT NULL,
    order_id uuid,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, event_id)
);
