-- Safe: alone in its file, no BEGIN/COMMIT (Bellows runs it outside a transaction).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_orders_created_at ON orders (created_at);
