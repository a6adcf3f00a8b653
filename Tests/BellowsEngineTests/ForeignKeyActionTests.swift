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

    /// Hostile-d 19: the declared key's `VALIDATE` runs after contract commits; stopped there (a
    /// cancel, a timeout, the deploy job killed), the key stayed NOT VALID for good, the plan
    /// contracted with nothing to finish it. Contract records the owed validation with its
    /// commit: `status` shows it with `bellows contract` as next, and contract on the contracted
    /// plan runs only the remaining VALIDATE.
    @Test func anInterruptedValidationAfterContractIsFinishedByContract() throws {
        let fixture = try EngineFixture("fkaction-validate")
        defer { fixture.close() }
        try fixture.exec(Self.setup)
        let id = "001_order_customer_fk"
        try fixture.writePlan(id, Self.plan("cascade"))
        try fixture.forward(id, through: .verify)
        let stop = Shared(false)
        let engine = fixture.engine({ options in options.shouldStop = { stop.current } }, reporter: { event in
            if case .step(_, _, _, let sql) = event, sql.contains("VALIDATE CONSTRAINT") { stop.update { $0 = true } }
        })
        #expect(throws: BellowsError.self) { try engine.run(.contract, plan: id) }
        #expect(try fixture.state(id)?.phase == .contracted)
        let key = "SELECT convalidated::text FROM pg_constraint WHERE conrelid = 'orders'::regclass AND contype = 'f'"
        #expect(try fixture.rows(key) == [["false"]])
        let line = try #require(try fixture.engine().status().first { $0.id == id })
        #expect(line.phase == .contracted)
        // UNVALIDATED-1
        #expect(line.next == "bellows contract \(id)")

        let outcome = try fixture.run(.contract, id)
        #expect(outcome.to == .contracted)
        #expect(try fixture.rows(key) == [["true"]])
        let done = try #require(try fixture.engine().status().first { $0.id == id })
        #expect(done.next == nil) // UNVALIDATED-2
        #expect(try fixture.events(id).last?.outcome == "succeeded")
        // Nothing is owed any more: contract is refused as for any contracted plan.
        let refusal = expectRefusal { try fixture.run(.contract, id) }
        #expect(refusal?.gates == ["phase"])
    }
}
