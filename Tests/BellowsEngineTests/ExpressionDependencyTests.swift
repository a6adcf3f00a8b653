import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// The dual-write function is PL/pgSQL: nothing in `pg_depend` tied it to a function its `up`
/// calls, so a migration (or `migrate rollback`) dropping that function was applied and every
/// write to the table failed (hostile-d 08). A view in the `bellows` schema, computed from the
/// expressions, makes PostgreSQL refuse the drop (2BP01, naming the plan) until contract or
/// rollback, without blocking changes to the table's other columns or other plans.
@Suite(needsDatabase)
struct ExpressionDependencyTests {
    static let plan = """
        table: users
        changes:
          - alter: email
            rename_to: email_normalised
            up: "norm_email(email)"
            down: "email_normalised"
        """

    static func setUp(_ fixture: EngineFixture) throws {
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, note text);
            CREATE FUNCTION norm_email(e text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(btrim(e)) $$;
            INSERT INTO users SELECT g, 'U' || g || '@X', 'n' || g, 'x' FROM generate_series(1, 20) g;
            """)
    }

    /// The drop, refused with 2BP01 naming the plan; nil when it went through.
    static func dropFunction(_ fixture: EngineFixture) -> PostgresError? {
        do {
            try fixture.exec("DROP FUNCTION norm_email(text)")
            return nil
        } catch let error as PostgresError {
            return error
        } catch {
            Issue.record("\(error)")
            return nil
        }
    }

    @Test func aFunctionAnInFlightPlanCallsCannotBeDroppedUntilContract() throws {
        let fixture = try EngineFixture("expr-deps")
        defer { fixture.close() }
        try Self.setUp(fixture)
        let id = "001_normalise_email"
        try fixture.writePlan(id, Self.plan)
        try fixture.run(.expand, id)
        let refused = Self.dropFunction(fixture)
        #expect(refused?.sqlState == SQLState("2BP01"), "\(refused.map { "\($0)" } ?? "dropped")")
        #expect((refused?.detail ?? "").contains("_bellows_plan_\(id)"), "\(refused.map { "\($0)" } ?? "dropped")")
        // Writes still work; the table's other columns and another plan are not held.
        try fixture.exec("INSERT INTO users (id, email) VALUES (1000, ' A@B '); UPDATE users SET email = 'Z@Z' WHERE id = 1")
        try fixture.exec("ALTER TABLE users DROP COLUMN note")
        try fixture.writePlan("002_full_name", """
            table: users
            changes:
              - alter: name
                rename_to: full_name
            """)
        try fixture.forward("002_full_name", through: .contract)
        for command: PhaseCommand in [.backfill, .verify, .contract] { try fixture.run(command, id) }
        #expect(try fixture.rows("SELECT email_normalised FROM users WHERE id IN (1, 1000) ORDER BY id") == [["z@z"], ["a@b"]])
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_bellows\\_plan\\_%'") == 0)
        #expect(Self.dropFunction(fixture) == nil)
    }

    @Test func rollbackDropsTheViewFirst() throws {
        let fixture = try EngineFixture("expr-deps-rollback")
        defer { fixture.close() }
        try Self.setUp(fixture)
        let id = "001_normalise_email"
        try fixture.writePlan(id, Self.plan)
        try fixture.forward(id, through: .backfill)
        #expect(Self.dropFunction(fixture)?.sqlState == SQLState("2BP01"))
        try fixture.run(.rollback, id)
        #expect(try fixture.int("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_bellows\\_plan\\_%'") == 0)
        #expect(Self.dropFunction(fixture) == nil)
    }
}
