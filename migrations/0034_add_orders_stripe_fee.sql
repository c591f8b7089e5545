-- Stripe's processing fee for the order's payment, from the charge's balance transaction:
-- {"amount": minor units, "currency": "EUR"} in the account's settlement currency.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS stripe_fee jsonb;
