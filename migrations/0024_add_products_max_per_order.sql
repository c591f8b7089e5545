-- How many units of this SKU one order may hold over all its lines; null means the default (10).
ALTER TABLE products ADD COLUMN IF NOT EXISTS max_per_order integer;
