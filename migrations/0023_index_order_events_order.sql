CREATE INDEX ASYNC IF NOT EXISTS order_events_order_idx ON order_events (order_id, at);
