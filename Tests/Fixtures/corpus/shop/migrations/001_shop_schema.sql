-- Migration: 001_shop_schema
-- Description: A small web shop: customers, products (enum status, jsonb attributes, numeric price, text[] tags), orders and order items (composite key), shipments of order lines
-- Dependencies: none

BEGIN;

CREATE TYPE product_status AS ENUM ('draft', 'active', 'retired');

CREATE TABLE customers (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email       text        NOT NULL UNIQUE,
    name        text        NOT NULL,
    region      char(2)     NOT NULL DEFAULT 'EU',
    phone       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    id            bigint         GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sku           text           NOT NULL UNIQUE,
    title         text           NOT NULL,
    status        product_status NOT NULL DEFAULT 'draft',
    price         numeric(10,2)  NOT NULL CHECK (price >= 0),
    attributes    jsonb          NOT NULL DEFAULT '{}',
    tags          text[]         NOT NULL DEFAULT '{}',
    weight_grams  integer,
    legacy_code   varchar(20)    DEFAULT 'none',
    created_at    timestamptz    NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  bigint      NOT NULL REFERENCES customers (id),
    placed_at    timestamptz NOT NULL DEFAULT now(),
    shipped_at   timestamptz,
    state        text        NOT NULL DEFAULT 'open',
    total_cents  bigint      NOT NULL DEFAULT 0,
    note         text,
    ship_street  text,
    ship_city    text
);

CREATE TABLE order_items (
    order_id    bigint        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    line_no     smallint      NOT NULL,
    product_id  bigint        NOT NULL REFERENCES products (id),
    quantity    integer       NOT NULL CHECK (quantity > 0),
    unit_price  numeric(10,2) NOT NULL,
    discount    numeric(5,2),
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE shipments (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    bigint      NOT NULL,
    line_no     smallint    NOT NULL,
    carrier     text        NOT NULL DEFAULT 'post',
    sent_at     timestamptz NOT NULL DEFAULT now()
);

COMMIT;
