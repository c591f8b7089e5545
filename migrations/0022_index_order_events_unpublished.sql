CREATE INDEX ASYNC IF NOT EXISTS order_events_published_idx ON order_events (published_at, at);
