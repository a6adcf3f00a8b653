SET lock_timeout = '2s';
DO $$
BEGIN
    UPDATE orders SET note = '' WHERE note IS NULL AND id < 1000;
    COMMIT;
END
$$;
