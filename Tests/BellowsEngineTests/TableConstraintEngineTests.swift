import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Table-level constraints (issue 17): a multi-column UNIQUE, FOREIGN KEY and CHECK added and
/// constraints (a CHECK, a NOT NULL) dropped by name, on a real PostgreSQL: what each phase
/// enforces, rollback from each phase giving back the catalog exactly, contract's final shape.
@Suite(needsDatabase)
struct TableConstraintEngineTests {
    static let setup = """
        CREATE TABLE customers (id bigint PRIMARY KEY, region text NOT NULL, UNIQUE (id, region));
        CREATE TABLE orders (
            id bigint PRIMARY KEY,
            customer_id bigint,
            region text,
            sku text NOT NULL,
            qty int NOT NULL CONSTRAINT orders_qty_positive CHECK (qty > 0),
            note text NOT NULL DEFAULT '',
            ordered_at timestamptz NOT NULL DEFAULT now(),
            shipped_at timestamptz
        );
        INSERT INTO customers SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 20) g;
        INSERT INTO orders (id, customer_id, region, sku, qty, ordered_at, shipped_at)
            SELECT g, 1 + g % 20, CASE WHEN (1 + g % 20) % 2 = 0 THEN 'eu' ELSE 'us' END, 'sku-' || g, 1 + g % 5,
                   now() - interval '10 days', CASE WHEN g % 3 = 0 THEN now() END
            FROM generate_series(1, 300) g;
        """

    static let plan = """
        table: orders
        changes:
          - add_unique: [customer_id, sku]
          - add_foreign_key: [customer_id, region]
            references: { table: customers, columns: [id, region] }
          - add_check: "shipped_at IS NULL OR shipped_at >= ordered_at"
            name: orders_shipped_after_ordered
          - drop_constraint: orders_qty_positive
          - drop_constraint: orders_note_not_null
        """

    static let id = "001_order_constraints"

    /// Each added constraint holds for every writer from expand on; the dropped ones hold
    /// until contract.
    func expectTransitionRules(_ fixture: EngineFixture) {
        #expect(throws: PostgresError.self, "duplicate (customer_id, sku)") {
            try fixture.exec("INSERT INTO orders (id, customer_id, region, sku, qty) VALUES (1001, 2, 'eu', 'sku-1', 1)")
        }
        #expect(throws: PostgresError.self, "no such (customer, region)") {
            try fixture.exec("INSERT INTO orders (id, customer_id, region, sku, qty) VALUES (1002, 2, 'us', 'new-1', 1)")
        }
        #expect(throws: PostgresError.self, "shipped before ordered") {
            try fixture.exec("INSERT INTO orders (id, customer_id, region, sku, qty, shipped_at) VALUES (1003, 2, 'eu', 'new-2', 1, now() - interval '1 year')")
        }
        #expect(throws: PostgresError.self, "the dropped CHECK holds until contract") {
            try fixture.exec("INSERT INTO orders (id, customer_id, region, sku, qty) VALUES (1004, 2, 'eu', 'new-3', 0)")
        }
        #expect(throws: PostgresError.self, "the dropped NOT NULL holds until contract") {
            try fixture.exec("INSERT INTO orders (id, customer_id, region, sku, qty, note) VALUES (1005, 2, 'eu', 'new-4', 1, NULL)")
        }
        // Old code's ordinary writes go on.
        #expect(throws: Never.self) {
            try fixture.exec("INSERT INTO orders (id, customer_id, region, sku, qty) VALUES (1006, 2, 'eu', 'new-5', 2); DELETE FROM orders WHERE id = 1006")
        }
    }

    @Test func rollbackFromEachPhaseRestoresTheCatalogExactly() throws {
        let fixture = try EngineFixture("tableconstraints")
        defer { fixture.close() }
        try fixture.exec(Self.setup)
        try fixture.writePlan(Self.id, Self.plan)
        let before = try fixture.snapshot("orders")
        let customersBefore = try fixture.snapshot("customers")
        for last in [PhaseCommand.expand, .backfill, .verify] {
            try fixture.forward(Self.id, through: last)
            expectTransitionRules(fixture)
            try fixture.run(.rollback, Self.id)
            let after = try fixture.snapshot("orders")
            #expect(after == before, "rollback after \(last.rawValue): \(before.difference(to: after))")
            #expect(try fixture.snapshot("customers") == customersBefore)
            #expect(try fixture.state(Self.id)?.phase == .rolledBack)
        }
    }

    @Test func contractGivesTheFinalShape() throws {
        let fixture = try EngineFixture("tableconstraints")
        defer { fixture.close() }
        try fixture.exec(Self.setup)
        try fixture.writePlan(Self.id, Self.plan)
        try fixture.forward(Self.id, through: .verify)
        #expect(try fixture.rows("""
            SELECT conname, convalidated::text FROM pg_constraint WHERE conrelid = 'orders'::regclass AND conname LIKE '\\_bellows\\_%' ORDER BY 1
            """) == [["_bellows_orders_customer_id_region_fkey", "true"], ["_bellows_orders_shipped_after_ordered", "true"]])
        try fixture.run(.contract, Self.id)
        #expect(try fixture.rows("""
            SELECT conname, contype::text, convalidated::text, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = 'orders'::regclass AND contype <> 'n' ORDER BY 1
            """) == [
                ["orders_customer_id_region_fkey", "f", "true", "FOREIGN KEY (customer_id, region) REFERENCES customers(id, region)"],
                ["orders_customer_id_sku_key", "u", "true", "UNIQUE (customer_id, sku)"],
                ["orders_pkey", "p", "true", "PRIMARY KEY (id)"],
                ["orders_shipped_after_ordered", "c", "true", "CHECK (((shipped_at IS NULL) OR (shipped_at >= ordered_at)))"],
            ])
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_bellows\\_%'") == 0)
        // The drops took effect; the additions hold.
        try fixture.exec("INSERT INTO orders (id, customer_id, region, sku, qty, note) VALUES (2001, 2, 'eu', 'new-9', 0, NULL)")
        #expect(throws: PostgresError.self) {
            try fixture.exec("INSERT INTO orders (id, customer_id, region, sku, qty) VALUES (2002, 2, 'eu', 'new-9', 1)")
        }
        #expect(try fixture.state(Self.id)?.phase == .contracted)
    }

    /// A UNIQUE the data already breaks: expand's index build fails and says why, leaving no
    /// index; rollback returns the table to its exact shape.
    @Test func aUniqueTheDataBreaksFailsExpandAndRollsBackClean() throws {
        let fixture = try EngineFixture("tableconstraints")
        defer { fixture.close() }
        try fixture.exec(Self.setup)
        try fixture.exec("UPDATE orders SET sku = 'dup' WHERE id IN (20, 40)")  // both customer 1
        try fixture.writePlan(Self.id, Self.plan)
        let before = try fixture.snapshot("orders")
        #expect(throws: (any Error).self) { try fixture.run(.expand, Self.id) }
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relname = '_bellows_orders_customer_id_sku_key'") == 0)
        try fixture.run(.rollback, Self.id)
        let after = try fixture.snapshot("orders")
        #expect(after == before, "\(before.difference(to: after))")
    }
}

/// `carry: {unique: false, references: false, checks: false}` on rebuilt columns, on a real
/// PostgreSQL: the old constraints hold for every writer until contract (new code's writes
/// reach the old column through down), rollback from each phase restores the catalog, and
/// after contract the new columns have none of them.
@Suite(needsDatabase)
struct CarryOptionEngineTests {
    static let setup = """
        CREATE TABLE parents (id int PRIMARY KEY);
        INSERT INTO parents SELECT generate_series(1, 10);
        CREATE TABLE items (
            id int PRIMARY KEY,
            code text UNIQUE,
            parent_id int REFERENCES parents (id),
            qty int CHECK (qty > 0)
        );
        INSERT INTO items SELECT g, 'c' || g, 1 + g % 10, 1 + g % 7 FROM generate_series(1, 200) g;
        """

    static let plan = """
        table: items
        changes:
          - alter: code
            rename_to: label
            carry: { unique: false }
          - alter: parent_id
            rename_to: parent
            carry: { references: false }
          - alter: qty
            rename_to: amount
            carry: { checks: false }
        """

    @Test func notCarriedConstraintsHoldUntilContractThenAreGone() throws {
        let fixture = try EngineFixture("carryoptions")
        defer { fixture.close() }
        try fixture.exec(Self.setup)
        let id = "001_items_without_constraints"
        try fixture.writePlan(id, Self.plan)
        let before = try fixture.snapshot("items")
        for last in [PhaseCommand.expand, .backfill, .verify] {
            try fixture.forward(id, through: last)
            // New code writing the new columns: down copies to the old ones, which still refuse.
            #expect(throws: PostgresError.self) { try fixture.exec("INSERT INTO items (id, label, parent, amount) VALUES (1001, 'c1', 1, 1)") }
            #expect(throws: PostgresError.self) { try fixture.exec("INSERT INTO items (id, label, parent, amount) VALUES (1002, 'x2', 99, 1)") }
            #expect(throws: PostgresError.self) { try fixture.exec("INSERT INTO items (id, label, parent, amount) VALUES (1003, 'x3', 1, 0)") }
            try fixture.run(.rollback, id)
            let after = try fixture.snapshot("items")
            #expect(after == before, "rollback after \(last.rawValue): \(before.difference(to: after))")
        }
        try fixture.forward(id, through: .contract)
        #expect(try fixture.rows("SELECT conname FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype <> 'n' ORDER BY 1") == [["items_pkey"]])
        try fixture.exec("INSERT INTO items (id, label, parent, amount) VALUES (1001, 'c1', 99, 0)")
    }
}

/// `bellows rehearse` of table-constraint plans (issue 17): forward under simulated old- and
/// new-version traffic, and rollback from each phase on a copy, the catalog compared.
@Suite(needsDatabase)
struct TableConstraintRehearsalTests {
    @Test func tableConstraintPlansRehearse() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-constraints-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["plans", "migrations"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try """
            -- Migration: 001_orders
            -- Description: customers by region and their orders
            -- Dependencies: none
            CREATE TABLE customers (id bigint PRIMARY KEY, region text NOT NULL, UNIQUE (id, region));
            CREATE TABLE orders (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                customer_id bigint,
                region text,
                sku text NOT NULL,
                qty int NOT NULL CONSTRAINT orders_qty_positive CHECK (qty > 0),
                note text NOT NULL DEFAULT '',
                legacy_code text UNIQUE CHECK (legacy_code <> '')
            );
            """.write(toFile: root + "/migrations/001_orders.sql", atomically: true, encoding: .utf8)
        try """
            INSERT INTO customers SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 20) g;
            INSERT INTO orders (customer_id, region, sku, qty, legacy_code)
                SELECT 1 + g % 20, CASE WHEN (1 + g % 20) % 2 = 0 THEN 'eu' ELSE 'us' END, 'sku-' || g, 1 + g % 5, 'L' || g
                FROM generate_series(1, 400) g;
            """.write(toFile: root + "/seed.sql", atomically: true, encoding: .utf8)
        try """
            table: orders
            changes:
              - add_foreign_key: [customer_id, region]
                references: { table: customers, columns: [id, region] }
                name: orders_customer_region_fkey
              - add_check: "qty < 1000"
              - drop_constraint: orders_qty_positive
              - drop_constraint: orders_note_not_null
            """.write(toFile: root + "/plans/001_order_constraints.yaml", atomically: true, encoding: .utf8)
        try """
            table: orders
            depends_on:
              plans: [001_order_constraints]
            changes:
              - alter: legacy_code
                rename_to: code
                carry: { unique: false, checks: false }
            """.write(toFile: root + "/plans/002_code_without_constraints.yaml", atomically: true, encoding: .utf8)
        var options = RehearsalOptions()
        options.seedFile = root + "/seed.sql"
        options.batchSize = 100
        let report = try Rehearsal(project: Project(root: root), options: options).run()
        // The phases and every rollback's catalog comparison must pass, and the simulated
        // writers write (customer_id, region) pairs of customers (before, they picked each
        // column on its own: 23503 on customer_region_fkey).
        let violations = report.violations.map { String($0.prefix(240)) }
        #expect(violations.isEmpty, "\(violations)")
        for plan in ["001_order_constraints", "002_code_without_constraints"] {
            #expect(report.steps.filter { $0.plan == plan && $0.outcome == "ok" }.map(\.phase) == ["expand", "backfill", "verify", "contract",
                    "rollback after expand", "rollback after backfill", "rollback after verify"], "\(plan): \(report.steps.filter { $0.plan == plan }.map { "\($0.phase) \($0.outcome)" })")
        }
    }
}
