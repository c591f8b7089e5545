-- One entry per transition (or noted fact) of an order, with its cause.
CREATE TABLE IF NOT EXISTS order_timeline (
    id uuid PRIMARY KEY,
    order_id uuid NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    from_status text NOT NULL,
    to_status text NOT NULL,
    cause text NOT NULL,
    detail text NOT NULL DEFAULT ''
);
