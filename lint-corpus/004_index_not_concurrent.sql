SET lock_timeout = '2s';
CREATE INDEX idx_users_name ON users (name);
