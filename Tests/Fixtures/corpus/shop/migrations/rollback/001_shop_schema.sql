-- Migration: 001_shop_schema
-- Description: Undo 001_shop_schema

BEGIN;
DROP TABLE shipments, order_items, orders, products, customers;
DROP TYPE product_status;
COMMIT;
