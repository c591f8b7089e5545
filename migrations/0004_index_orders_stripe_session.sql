CREATE UNIQUE INDEX ASYNC IF NOT EXISTS orders_stripe_session_key ON orders (stripe_session_id);
