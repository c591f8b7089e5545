-- The order-event outbox: one row per order transition the outside world hears about, written
-- in the transaction of the transition. The id is the order_timeline row's id, the event's
-- stable id; published_at is set once the event bus took the event, and a row left unpublished
-- is published again by the catch-up jobs.
CREATE TABLE IF NOT EXISTS order_events (
    id uuid PRIMARY KEY,
    order_id uuid NOT NULL,
    detail_type text NOT NULL CHECK (detail_type IN ('Order Paid', 'Order Submitted', 'Order Shipped',
        'Order Refunded', 'Order Canceled', 'Order Needs Attention')),
    at timestamptz NOT NULL,
    published_at timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    last_error text
);
