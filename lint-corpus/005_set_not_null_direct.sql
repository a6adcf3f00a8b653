SET lock_timeout = '2s';
ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;
