import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// One change kind, end to end: the table before, the plan, the table as intended after
/// contract, and what the data must be.
struct KindCase: Sendable, CustomTestStringConvertible {
    var name: String
    var table: String
    /// Drops and creates the table (and what it refers to) in `public`, with its rows.
    var setup: String
    var plan: String
    /// The intended final table, created in schema `ref` (foreign keys point to `public`).
    var reference: String
    /// Over the table before expand: the key and `up(old)` for every row, in the final column order.
    var upQuery: String
    /// Over the table after contract: the key and the final columns.
    var finalQuery: String
    /// Over the old shape: the key and the old columns.
    var oldQuery: String
    /// Writes after expand by old and new application code.
    var writes: [String] = []
    /// What `finalQuery` must return for the rows `writes` touched.
    var writtenFinal: [[String?]] = []
    /// What `oldQuery` must return for those rows (old code keeps reading them; rollback keeps them).
    var writtenOld: [[String?]] = []

    var testDescription: String { name }
}

extension KindCase {
    static let all: [KindCase] = [
        KindCase(
            name: "rename",
            table: "users",
            setup: """
                DROP TABLE IF EXISTS users CASCADE;
                CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);
                CREATE INDEX users_email_idx ON users (email);
                INSERT INTO users SELECT g, 'user' || g || '@example.com', 'User ' || g FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: users
                changes:
                  - alter: email
                    rename_to: email_address
                    not_null: true
                    comment: "Where we write to"
                """,
            reference: """
                CREATE TABLE ref.users (id bigint PRIMARY KEY, name text, email_address text NOT NULL);
                CREATE INDEX users_email_address_idx ON ref.users (email_address);
                COMMENT ON COLUMN ref.users.email_address IS 'Where we write to';
                """,
            upQuery: "SELECT id, email FROM users ORDER BY id",
            finalQuery: "SELECT id, email_address FROM users ORDER BY id",
            oldQuery: "SELECT id, email FROM users ORDER BY id",
            writes: [
                "INSERT INTO users (id, email, name) VALUES (1001, 'old@example.com', 'Old')",
                "INSERT INTO users (id, email_address, name) VALUES (1002, 'new@example.com', 'New')",
                "UPDATE users SET email = 'changed-by-old@example.com' WHERE id = 5",
                "UPDATE users SET email_address = 'changed-by-new@example.com' WHERE id = 6",
            ],
            writtenFinal: [["5", "changed-by-old@example.com"], ["6", "changed-by-new@example.com"],
                           ["1001", "old@example.com"], ["1002", "new@example.com"]],
            writtenOld: [["5", "changed-by-old@example.com"], ["6", "changed-by-new@example.com"],
                         ["1001", "old@example.com"], ["1002", "new@example.com"]]),

        KindCase(
            name: "type change (shadow column)",
            table: "items",
            setup: """
                DROP TABLE IF EXISTS items CASCADE;
                CREATE TABLE items (id bigint PRIMARY KEY, price integer NOT NULL DEFAULT 0, label text);
                CREATE INDEX items_price_idx ON items (price);
                INSERT INTO items SELECT g, g * 7, 'item ' || g FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: items
                changes:
                  - alter: price
                    type: numeric(10,2)
                    up: "price / 100.0"
                    down: "(price * 100)::integer"
                    not_null: true
                """,
            reference: """
                CREATE TABLE ref.items (id bigint PRIMARY KEY, price numeric(10,2) NOT NULL DEFAULT (0) / 100.0, label text);
                CREATE INDEX items_price_idx ON ref.items (price);
                """,
            upQuery: "SELECT id, (price / 100.0)::numeric(10,2), label FROM items ORDER BY id",
            finalQuery: "SELECT id, price, label FROM items ORDER BY id",
            oldQuery: "SELECT id, price, label FROM items ORDER BY id",
            writes: [
                "INSERT INTO items (id, price, label) VALUES (1001, 250, 'old')",
                "INSERT INTO items (id, label) VALUES (1002, 'default price')",
                "UPDATE items SET price = 999 WHERE id = 5",
            ],
            writtenFinal: [["5", "9.99", "item 5"], ["1001", "2.50", "old"], ["1002", "0.00", "default price"]],
            writtenOld: [["5", "999", "item 5"], ["1001", "250", "old"], ["1002", "0", "default price"]]),

        KindCase(
            name: "in-place NOT NULL with up",
            table: "profiles",
            setup: """
                DROP TABLE IF EXISTS profiles CASCADE;
                CREATE TABLE profiles (id bigint PRIMARY KEY, user_id bigint NOT NULL, created_by bigint);
                INSERT INTO profiles SELECT g, g + 10000, CASE WHEN g % 2 = 0 THEN NULL ELSE g END FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: profiles
                changes:
                  - alter: created_by
                    up: "coalesce(created_by, user_id)"
                    not_null: true
                """,
            reference: "CREATE TABLE ref.profiles (id bigint PRIMARY KEY, user_id bigint NOT NULL, created_by bigint NOT NULL);",
            upQuery: "SELECT id, user_id, coalesce(created_by, user_id) FROM profiles ORDER BY id",
            finalQuery: "SELECT id, user_id, created_by FROM profiles ORDER BY id",
            oldQuery: "SELECT id, user_id, created_by FROM profiles ORDER BY id",
            writes: [
                "INSERT INTO profiles (id, user_id) VALUES (1001, 77)",
                "INSERT INTO profiles (id, user_id, created_by) VALUES (1002, 78, 5)",
                "UPDATE profiles SET created_by = NULL WHERE id = 5",
            ],
            writtenFinal: [["5", "10005", "10005"], ["1001", "77", "77"], ["1002", "78", "5"]],
            writtenOld: [["5", "10005", "10005"], ["1001", "77", "77"], ["1002", "78", "5"]]),

        KindCase(
            name: "in-place normalisation with unique",
            table: "skills",
            setup: """
                DROP TABLE IF EXISTS skills CASCADE;
                CREATE TABLE skills (id bigint PRIMARY KEY, name text NOT NULL);
                INSERT INTO skills SELECT g, CASE WHEN g % 3 = 0 THEN '  Skill ' || g || ' ' ELSE 'skill ' || g END FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: skills
                changes:
                  - alter: name
                    up: "lower(btrim(name))"
                    unique: true
                """,
            reference: "CREATE TABLE ref.skills (id bigint PRIMARY KEY, name text NOT NULL CONSTRAINT skills_name_key UNIQUE);",
            upQuery: "SELECT id, lower(btrim(name)) FROM skills ORDER BY id",
            finalQuery: "SELECT id, name FROM skills ORDER BY id",
            oldQuery: "SELECT id, name FROM skills ORDER BY id",
            writes: [
                "INSERT INTO skills (id, name) VALUES (1001, '  New SKILL ')",
                "UPDATE skills SET name = ' MiXeD ' WHERE id = 5",
            ],
            writtenFinal: [["5", "mixed"], ["1001", "new skill"]],
            writtenOld: [["5", "mixed"], ["1001", "new skill"]]),

        KindCase(
            name: "add column",
            table: "people",
            setup: """
                DROP TABLE IF EXISTS people CASCADE;
                CREATE TABLE people (id bigint PRIMARY KEY, full_name text);
                INSERT INTO people SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'Person ' || g END FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: people
                changes:
                  - add: display_name
                    type: text
                    default: "''"
                    not_null: true
                    backfill: "coalesce(full_name, '')"
                    check: "length(display_name) < 200"
                  - add: score
                    type: integer
                    default: "0"
                    not_null: true
                """,
            reference: """
                CREATE TABLE ref.people (id bigint PRIMARY KEY, full_name text,
                    display_name text NOT NULL DEFAULT '' CONSTRAINT people_display_name_check CHECK (length(display_name) < 200),
                    score integer NOT NULL DEFAULT 0);
                """,
            upQuery: "SELECT id, full_name, coalesce(full_name, ''), 0 FROM people ORDER BY id",
            finalQuery: "SELECT id, full_name, display_name, score FROM people ORDER BY id",
            oldQuery: "SELECT id, full_name FROM people ORDER BY id",
            writes: [
                "INSERT INTO people (id, full_name) VALUES (1001, 'Old Code')",
                "INSERT INTO people (id) VALUES (1002)",
                "INSERT INTO people (id, full_name, display_name, score) VALUES (1003, 'New Code', 'Shown', 7)",
                "UPDATE people SET full_name = 'Renamed' WHERE id = 6",
            ],
            writtenFinal: [["6", "Renamed", "Renamed", "0"], ["1001", "Old Code", "Old Code", "0"], ["1002", nil, "", "0"],
                           ["1003", "New Code", "Shown", "7"]],
            writtenOld: [["6", "Renamed"], ["1001", "Old Code"], ["1002", nil], ["1003", "New Code"]]),

        KindCase(
            name: "drop column",
            table: "orders",
            setup: """
                DROP TABLE IF EXISTS orders CASCADE;
                CREATE TABLE orders (id bigint PRIMARY KEY, legacy_flag boolean NOT NULL, total integer);
                INSERT INTO orders SELECT g, g % 2 = 0, g FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: orders
                changes:
                  - drop: legacy_flag
                    down: "false"
                """,
            reference: "CREATE TABLE ref.orders (id bigint PRIMARY KEY, total integer);",
            upQuery: "SELECT id, total FROM orders ORDER BY id",
            finalQuery: "SELECT id, total FROM orders ORDER BY id",
            oldQuery: "SELECT id, legacy_flag, total FROM orders ORDER BY id",
            writes: [
                "INSERT INTO orders (id, total) VALUES (1001, 5)",
                "INSERT INTO orders (id, legacy_flag, total) VALUES (1002, true, 6)",
            ],
            writtenFinal: [["1001", "5"], ["1002", "6"]],
            writtenOld: [["1001", "f", "5"], ["1002", "t", "6"]]),

        KindCase(
            name: "split",
            table: "contacts",
            setup: """
                DROP TABLE IF EXISTS contacts CASCADE;
                CREATE TABLE contacts (id bigint PRIMARY KEY, full_name text);
                INSERT INTO contacts SELECT g, CASE WHEN g % 7 = 0 THEN NULL WHEN g % 5 = 0 THEN 'Solo' || g ELSE 'First' || g || ' Last' || g END
                FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: contacts
                changes:
                  - split: full_name
                    into:
                      - { column: given_name, type: text, up: "split_part(full_name, ' ', 1)" }
                      - { column: family_name, type: text, up: "nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name)" }
                    down: "nullif(concat_ws(' ', given_name, family_name), '')"
                """,
            reference: "CREATE TABLE ref.contacts (id bigint PRIMARY KEY, given_name text, family_name text);",
            upQuery: """
                SELECT id, split_part(full_name, ' ', 1), nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name)
                FROM contacts ORDER BY id
                """,
            finalQuery: "SELECT id, given_name, family_name FROM contacts ORDER BY id",
            oldQuery: "SELECT id, full_name FROM contacts ORDER BY id",
            writes: [
                "INSERT INTO contacts (id, full_name) VALUES (1001, 'Ada Lovelace')",
                "INSERT INTO contacts (id, given_name, family_name) VALUES (1002, 'Grace', 'Hopper')",
                "UPDATE contacts SET family_name = 'Changed' WHERE id = 8",
                "UPDATE contacts SET full_name = 'Alan Turing' WHERE id = 9",
            ],
            writtenFinal: [["8", "First8", "Changed"], ["9", "Alan", "Turing"], ["1001", "Ada", "Lovelace"], ["1002", "Grace", "Hopper"]],
            writtenOld: [["8", "First8 Changed"], ["9", "Alan Turing"], ["1001", "Ada Lovelace"], ["1002", "Grace Hopper"]]),

        KindCase(
            name: "merge",
            table: "names",
            setup: """
                DROP TABLE IF EXISTS names CASCADE;
                CREATE TABLE names (id bigint PRIMARY KEY, given_name text, family_name text);
                INSERT INTO names SELECT g, 'Given' || g, CASE WHEN g % 4 = 0 THEN NULL ELSE 'Family' || g END FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: names
                changes:
                  - merge: [given_name, family_name]
                    into: full_name
                    type: text
                    up: "nullif(concat_ws(' ', given_name, family_name), '')"
                    down:
                      given_name: "split_part(full_name, ' ', 1)"
                      family_name: "nullif(substr(full_name, strpos(full_name, ' ') + 1), full_name)"
                """,
            reference: "CREATE TABLE ref.names (id bigint PRIMARY KEY, full_name text);",
            upQuery: "SELECT id, nullif(concat_ws(' ', given_name, family_name), '') FROM names ORDER BY id",
            finalQuery: "SELECT id, full_name FROM names ORDER BY id",
            oldQuery: "SELECT id, given_name, family_name FROM names ORDER BY id",
            writes: [
                "INSERT INTO names (id, given_name, family_name) VALUES (1001, 'Ada', 'Lovelace')",
                "INSERT INTO names (id, full_name) VALUES (1002, 'Grace Hopper')",
                "UPDATE names SET full_name = 'Alan Turing' WHERE id = 5",
                "UPDATE names SET family_name = 'Changed' WHERE id = 6",
            ],
            writtenFinal: [["5", "Alan Turing"], ["6", "Given6 Changed"], ["1001", "Ada Lovelace"], ["1002", "Grace Hopper"]],
            writtenOld: [["5", "Alan", "Turing"], ["6", "Given6", "Changed"], ["1001", "Ada", "Lovelace"], ["1002", "Grace", "Hopper"]]),

        KindCase(
            name: "references",
            table: "members",
            setup: """
                DROP TABLE IF EXISTS members CASCADE;
                DROP TABLE IF EXISTS teams CASCADE;
                CREATE TABLE teams (id bigint PRIMARY KEY);
                INSERT INTO teams SELECT g FROM generate_series(1, 10) AS g;
                CREATE TABLE members (id bigint PRIMARY KEY, team_id bigint);
                INSERT INTO members SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE g % 10 + 1 END FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: members
                changes:
                  - alter: team_id
                    references: { table: teams, column: id, on_delete: cascade }
                """,
            reference: "CREATE TABLE ref.members (id bigint PRIMARY KEY, team_id bigint CONSTRAINT members_team_id_fkey REFERENCES public.teams (id) ON DELETE CASCADE);",
            upQuery: "SELECT id, team_id FROM members ORDER BY id",
            finalQuery: "SELECT id, team_id FROM members ORDER BY id",
            oldQuery: "SELECT id, team_id FROM members ORDER BY id",
            writes: ["INSERT INTO members (id, team_id) VALUES (1001, 3)"],
            writtenFinal: [["1001", "3"]],
            writtenOld: [["1001", "3"]]),

        KindCase(
            name: "check, drop NOT NULL, drop default",
            table: "claims",
            setup: """
                DROP TABLE IF EXISTS claims CASCADE;
                CREATE TABLE claims (id bigint PRIMARY KEY, status text NOT NULL, note text NOT NULL DEFAULT 'n/a');
                INSERT INTO claims SELECT g, (ARRAY['pending', 'verified', 'rejected'])[g % 3 + 1], 'note ' || g FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: claims
                changes:
                  - alter: status
                    check: "status IN ('pending', 'verified', 'rejected')"
                  - alter: note
                    not_null: false
                    drop_default: true
                """,
            reference: """
                CREATE TABLE ref.claims (id bigint PRIMARY KEY,
                    status text NOT NULL CONSTRAINT claims_status_check CHECK (status IN ('pending', 'verified', 'rejected')),
                    note text);
                """,
            upQuery: "SELECT id, status, note FROM claims ORDER BY id",
            finalQuery: "SELECT id, status, note FROM claims ORDER BY id",
            oldQuery: "SELECT id, status, note FROM claims ORDER BY id",
            writes: ["INSERT INTO claims (id, status) VALUES (1001, 'verified')"],
            writtenFinal: [["1001", "verified", "n/a"]],
            writtenOld: [["1001", "verified", "n/a"]]),

        KindCase(
            name: "unique and foreign key carried over",
            table: "products",
            setup: """
                DROP TABLE IF EXISTS products CASCADE;
                DROP TABLE IF EXISTS vendors CASCADE;
                CREATE TABLE vendors (id bigint PRIMARY KEY);
                INSERT INTO vendors SELECT g FROM generate_series(1, 10) AS g;
                CREATE TABLE products (id bigint PRIMARY KEY, code text NOT NULL UNIQUE, vendor_id bigint REFERENCES vendors (id));
                INSERT INTO products SELECT g, 'P-' || g, g % 10 + 1 FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: products
                changes:
                  - alter: code
                    rename_to: sku
                  - alter: vendor_id
                    rename_to: supplier_id
                """,
            reference: """
                CREATE TABLE ref.products (id bigint PRIMARY KEY, sku text NOT NULL CONSTRAINT products_sku_key UNIQUE,
                    supplier_id bigint CONSTRAINT products_supplier_id_fkey REFERENCES public.vendors (id));
                """,
            upQuery: "SELECT id, code, vendor_id FROM products ORDER BY id",
            finalQuery: "SELECT id, sku, supplier_id FROM products ORDER BY id",
            oldQuery: "SELECT id, code, vendor_id FROM products ORDER BY id",
            writes: [
                "INSERT INTO products (id, code, vendor_id) VALUES (1001, 'OLD-1', 2)",
                "INSERT INTO products (id, sku, supplier_id) VALUES (1002, 'NEW-2', 3)",
            ],
            writtenFinal: [["1001", "OLD-1", "2"], ["1002", "NEW-2", "3"]],
            writtenOld: [["1001", "OLD-1", "2"], ["1002", "NEW-2", "3"]]),

        // Hostile finding 26: each change takes the name the other moves away; the index and
        // the UNIQUE constraint follow their column's values and swap names too.
        KindCase(
            name: "column swap",
            table: "sw",
            setup: """
                DROP TABLE IF EXISTS sw CASCADE;
                CREATE TABLE sw (id bigint PRIMARY KEY, first text NOT NULL, last text NOT NULL UNIQUE);
                CREATE INDEX sw_first_idx ON sw (first);
                INSERT INTO sw SELECT g, 'F' || g, 'L' || g FROM generate_series(1, 300) AS g;
                """,
            plan: """
                table: sw
                changes:
                  - alter: first
                    rename_to: last
                  - alter: last
                    rename_to: first
                """,
            reference: """
                CREATE TABLE ref.sw (id bigint PRIMARY KEY, last text NOT NULL, first text NOT NULL CONSTRAINT sw_first_key UNIQUE);
                CREATE INDEX sw_last_idx ON ref.sw (last);
                """,
            upQuery: "SELECT id, first, last FROM sw ORDER BY id",
            finalQuery: "SELECT id, last, first FROM sw ORDER BY id",
            oldQuery: "SELECT id, first, last FROM sw ORDER BY id",
            writes: [
                "INSERT INTO sw (id, first, last) VALUES (1001, 'F-old', 'L-old')",
                "UPDATE sw SET first = 'F5-changed' WHERE id = 5",
                "UPDATE sw SET last = 'L6-changed' WHERE id = 6",
            ],
            writtenFinal: [["5", "F5-changed", "L5"], ["6", "F6", "L6-changed"], ["1001", "F-old", "L-old"]],
            writtenOld: [["5", "F5-changed", "L5"], ["6", "F6", "L6-changed"], ["1001", "F-old", "L-old"]]),
    ]
}

/// Rollback restores the exact definition from every phase, and the forward path ends in
/// the intended shape with `up(old)` data, for every change kind.
@Suite(needsDatabase)
struct ChangeKindTests {
    static let planID = "001_change"

    /// Rows of `query` whose first value is one of `keys`.
    func rows(_ fixture: EngineFixture, _ query: String, keys: Set<String?>) throws -> [[String?]] {
        try fixture.rows(query).filter { keys.contains($0.first ?? nil) }
    }

    @Test(arguments: KindCase.all)
    func rollbackRestoresTheDefinitionAndContractReachesTheIntendedShape(_ kind: KindCase) throws {
        let fixture = try EngineFixture("kind")
        defer { fixture.close() }
        try fixture.writePlan(Self.planID, kind.plan)
        let writtenKeys = Set(kind.writtenOld.map { $0.first ?? nil })

        // Rollback from each phase before contract: the table's definition is back exactly,
        // and what old and new code wrote meanwhile is in the old columns.
        for last in [PhaseCommand.expand, .backfill, .verify] {
            try fixture.exec(kind.setup)
            let before = try fixture.snapshot(kind.table)
            try fixture.forward(Self.planID, through: last)
            #expect(try fixture.snapshot(kind.table) != before, "\(kind.name): expand changed nothing")
            for write in kind.writes { try fixture.exec(write) }
            try fixture.run(.rollback, Self.planID)
            let after = try fixture.snapshot(kind.table)
            #expect(after == before, "\(kind.name), rollback after \(last): \(before.difference(to: after))")
            #expect(try rows(fixture, kind.oldQuery, keys: writtenKeys) == kind.writtenOld, "\(kind.name), rollback after \(last)")
            #expect(try fixture.state(Self.planID)?.phase == .rolledBack)
            #expect(try fixture.int("SELECT count(*) FROM pg_proc WHERE pronamespace = 'bellows'::regnamespace AND proname LIKE 'sync_%'") == 0)
        }

        // The forward path.
        try fixture.exec(kind.setup)
        let expected = try fixture.rows(kind.upQuery)
        try fixture.run(.expand, Self.planID)
        for write in kind.writes { try fixture.exec(write) }
        #expect(try rows(fixture, kind.oldQuery, keys: writtenKeys) == kind.writtenOld, "\(kind.name): old code reads what was written")
        try fixture.run(.backfill, Self.planID)
        try fixture.run(.verify, Self.planID)
        try fixture.run(.contract, Self.planID)
        #expect(try fixture.state(Self.planID)?.phase == .contracted)

        var want = Dictionary(expected.map { (($0.first ?? nil) ?? "", $0) }, uniquingKeysWith: { a, _ in a })
        for row in kind.writtenFinal { want[(row.first ?? nil) ?? ""] = row }
        let actual = try fixture.rows(kind.finalQuery)
        let wantRows = want.values.sorted { (Int(($0.first ?? nil) ?? "") ?? 0) < (Int(($1.first ?? nil) ?? "") ?? 0) }
        #expect(actual.count == wantRows.count, "\(kind.name): row count")
        let mismatches = zip(actual, wantRows).filter { $0.0 != $0.1 }
        #expect(mismatches.isEmpty, "\(kind.name): \(mismatches.count) rows differ from up(old), e.g. \(mismatches.prefix(3))")

        // The intended shape: the same table written by hand, and nothing of Bellows left.
        try fixture.exec("CREATE SCHEMA ref; SET search_path = public;\n" + kind.reference)
        let intended = try fixture.snapshot("ref.\(kind.table)").shape(renamingSchema: "ref")
        let got = try fixture.snapshot(kind.table).shape()
        #expect(got == intended, "\(kind.name): only after contract: \(Set(got).subtracting(intended).sorted()); only intended: \(Set(intended).subtracting(got).sorted())")
        #expect(!got.contains { $0.contains("_bellows_") })
        #expect(try fixture.int("SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1) AND NOT tgisinternal", [kind.table]) == 0)
        #expect(try fixture.int("SELECT count(*) FROM pg_proc WHERE pronamespace = 'bellows'::regnamespace AND proname LIKE 'sync_%'") == 0)
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_bellows\\_%'") == 0)
    }
}
