CREATE INDEX CONCURRENTLY idx_purchases_status ON purchases (status);
