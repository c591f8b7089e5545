CREATE INDEX ASYNC IF NOT EXISTS orders_payment_intent_idx ON orders (stripe_payment_intent_id);
