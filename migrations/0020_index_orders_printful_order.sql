CREATE INDEX ASYNC IF NOT EXISTS orders_printful_order_idx ON orders (printful_order_id);
