SET lock_timeout = '2s';
CREATE INDEX CONCURRENTLY idx_purchases_note ON purchases (note);
ALTER TABLE purchases ADD COLUMN archived boolean;
