-- Safe: DDL-looking text in comments, strings and function bodies is not executed here.
-- ALTER TABLE users DROP COLUMN email;
SET lock_timeout = '2s';
SELECT 'CREATE INDEX idx ON users (email)' AS not_a_statement;
CREATE FUNCTION touch_orders() RETURNS void LANGUAGE sql AS $body$
    UPDATE orders SET note = note;
    DELETE FROM audit_log;
$body$;
COMMENT ON TABLE orders IS 'VACUUM FULL orders; ALTER TABLE orders RENAME TO o';
