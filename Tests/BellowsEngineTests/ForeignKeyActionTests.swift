import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// A plan's `references: { on_delete: cascade | set null }` (hostile finding 06, 2026-12-02b):
/// the action must not fire before contract, when old code's deletes are still legitimate and a
/// rollback could not bring the rows or values it removed back.
@Suite(needsDatabase)
struct ForeignKeyActionTests {
    static let setup = """
        CREATE TABLE customers (id bigint PRIMARY KEY, name text);
        CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint, total numeric(10,2));
        INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 10) g;
        INSERT INTO orders SELECT g, 1 + g % 10, g FROM generate_series(1, 100) g;
        """

    static func plan(_ action: String) -> String {
        """
        table: orders
        changes:
          - alter: customer_id
            rename_to: customer
            references: { table: customers, column: id, on_delete: \(action) }
        """
    }

    /// Before contract, deleting a referenced customer is refused (no action), not cascaded or
    /// nulled; rollback keeps every order and value. After contract the declared action holds,
    /// on a validated constraint.
    @Test(arguments: ["cascade", "set null"])
    func declaredActionTakesEffectOnlyAtContract(action: String) throws {
        let fixture = try EngineFixture("fkaction")
        defer { fixture.close() }
        try fixture.exec(Self.setup)
        let id = "001_order_customer_fk"
        try fixture.writePlan(id, Self.plan(action))
        try fixture.forward(id, through: .backfill)
        #expect(throws: PostgresError.self) { try fixture.exec("DELETE FROM customers WHERE id = 4") }
        #expect(try fixture.int("SELECT count(*) FROM orders") == 100)
        #expect(try fixture.int("SELECT count(*) FROM orders WHERE customer_id IS NULL") == 0)
        _ = try fixture.run(.rollback, id)
        #expect(try fixture.int("SELECT count(*) FROM orders") == 100)
        #expect(try fixture.int("SELECT count(*) FROM orders WHERE customer_id IS NULL") == 0)

        try fixture.forward(id, through: .contract)
        #expect(try fixture.rows("""
            SELECT conname, confdeltype::text, convalidated::text FROM pg_constraint
            WHERE conrelid = 'orders'::regclass AND contype = 'f'
            """) == [["orders_customer_fkey", action == "cascade" ? "c" : "n", "true"]])
        try fixture.exec("DELETE FROM customers WHERE id = 4")
        #expect(try fixture.int("SELECT count(*) FROM orders") == (action == "cascade" ? 90 : 100))
    }
}
