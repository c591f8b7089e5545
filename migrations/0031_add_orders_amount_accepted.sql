-- Set when the owner reviewed an amount mismatch and let the order go on (a state part, joined by OR).
ALTER TABLE orders ADD COLUMN IF NOT EXISTS amount_accepted boolean;
