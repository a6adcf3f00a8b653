/// A database built by hand, not by Bellows: enum, serial and identity keys, a unique
/// constraint, a CHECK, a foreign key and a self-reference, a partial index, a view, a
/// function and its trigger, a second schema; and rows.
public enum ExistingDatabase {
    public static let schemaSQL = """
        CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped');
        CREATE TABLE customers (id serial PRIMARY KEY, email varchar(200) NOT NULL UNIQUE, name text,
                                created_at timestamptz NOT NULL DEFAULT now());
        CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id int NOT NULL REFERENCES customers (id),
                             status order_status NOT NULL DEFAULT 'new', amount_cents integer NOT NULL CHECK (amount_cents >= 0),
                             note text);
        CREATE INDEX orders_customer_idx ON orders (customer_id);
        CREATE INDEX orders_open_idx ON orders (id) WHERE status <> 'shipped';
        CREATE TABLE employees (id int PRIMARY KEY, manager_id int REFERENCES employees (id), name text NOT NULL);
        CREATE VIEW big_orders AS SELECT id, amount_cents FROM orders WHERE amount_cents > 10000;
        CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.created_at := now(); RETURN NEW; END$$;
        CREATE TRIGGER customers_touch BEFORE UPDATE ON customers FOR EACH ROW EXECUTE FUNCTION touch();
        CREATE SCHEMA billing;
        CREATE TABLE billing.invoices (number text PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders (id), total numeric(12, 2));
        """

    public static let dataSQL = """
        INSERT INTO customers (email, name) SELECT 'c' || g || '@example.org', 'Customer ' || g FROM generate_series(1, 300) g;
        INSERT INTO orders (customer_id, amount_cents, status)
            SELECT 1 + g % 300, g * 7, (ARRAY['new', 'paid', 'shipped']::order_status[])[1 + g % 3] FROM generate_series(1, 3000) g;
        INSERT INTO employees VALUES (1, NULL, 'boss');
        INSERT INTO employees SELECT g, g - 1, 'employee ' || g FROM generate_series(2, 60) g;
        INSERT INTO billing.invoices SELECT 'INV-' || g, g * 3, g * 1.5 FROM generate_series(1, 900) g;
        """
}
