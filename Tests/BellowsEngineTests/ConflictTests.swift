import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Plans of two projects (two teams) on one database: the runtime conflict gate is all that
/// keeps them apart (`check` sees one project). It is atomic, exact about which table, and
/// covers the columns other plans' expressions read.
@Suite(needsDatabase)
struct ConflictTests {
    static func renamePlan(_ table: String, column: String = "email", to name: String) -> String {
        """
        table: '\(table)'
        changes:
          - alter: \(column)
            rename_to: \(name)
        """
    }

    /// Two expands of plans on the same column start together, both held at the table by a
    /// lock the test holds; once it is released, one expands and the other is refused.
    @Test func twoExpandsOnOneColumnAtTheSameInstantOneIsRefused() throws {
        let fixture = try EngineFixture("conflict-race")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE "a.b" (id bigint PRIMARY KEY, email text);
            INSERT INTO "a.b" SELECT g, 'u' || g FROM generate_series(1, 100) AS g;
            """)
        let (one, two) = (try fixture.otherProject("one"), try fixture.otherProject("two"))
        try fixture.writePlan("001_team_one", Self.renamePlan("\"a.b\"", to: "mail"), in: one)
        try fixture.writePlan("002_team_two", Self.renamePlan("\"a.b\"", to: "e_mail"), in: two)
        // Bellows' state exists before the race, so both sessions only wait at the table.
        try fixture.run(.expand, "001_team_one", in: one)
        try fixture.run(.rollback, "001_team_one", in: one)

        let holder = try fixture.db.connect()
        try holder.execute("BEGIN")
        try holder.execute("LOCK TABLE \"a.b\" IN ACCESS EXCLUSIVE MODE")
        let outcomes = Shared<[String: String]>([:])
        let workers = [("001_team_one", one), ("002_team_two", two)].map { id, project in
            Worker(id) {
                let result: String
                do {
                    try fixture.run(.expand, id, in: project) { $0.lockTimeoutMilliseconds = 60_000 }
                    result = "expanded"
                } catch BellowsError.refused(let refusal) {
                    result = refusal.failures.map(\.gate).joined(separator: ",")
                } catch {
                    result = "error: \(error)"
                }
                outcomes.update { $0[id] = result }
            }
        }
        let bothWait = try eventually(30) {
            try fixture.int("""
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = 'bellows' AND wait_event_type = 'Lock'
                """) == 2
        }
        #expect(bothWait)
        try holder.execute("COMMIT")
        holder.close()
        for worker in workers { worker.join() }
        let results = outcomes.current
        // One expanded; the other refused by the conflict gate (the plan gate, which reads the
        // live catalog, may refuse it too when it runs after the winner's commit).
        #expect(results.values.filter { $0 == "expanded" }.count == 1
                && results.values.contains { $0.split(separator: ",").contains("conflict") }, "\(results)")
        // The table has exactly one new column.
        #expect(try fixture.int("""
            SELECT count(*) FROM pg_attribute WHERE attrelid = '"a.b"'::regclass AND attname IN ('mail', 'e_mail') AND NOT attisdropped
            """) == 1)
    }

    /// `"a.b"` (a table named a.b) is one table, `a.b` (table b of schema a) another.
    @Test func theTableIsComparedByItsExactName() throws {
        let fixture = try EngineFixture("conflict-exact")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE SCHEMA a;
            CREATE TABLE "a.b" (id bigint PRIMARY KEY, email text);
            CREATE TABLE a.b (id bigint PRIMARY KEY, email text);
            """)
        let (one, two, three) = (try fixture.otherProject("one"), try fixture.otherProject("two"), try fixture.otherProject("three"))
        try fixture.writePlan("001_quoted", Self.renamePlan("\"a.b\"", to: "mail"), in: one)
        try fixture.writePlan("002_quoted_too", Self.renamePlan("public.\"a.b\"", to: "e_mail"), in: two)
        try fixture.writePlan("003_schema_table", Self.renamePlan("a.b", to: "mail"), in: three)
        try fixture.run(.expand, "001_quoted", in: one)
        let refusal = expectRefusal { try fixture.run(.expand, "002_quoted_too", in: two) }
        #expect(refusal?.gates.contains("conflict") == true, "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("001_quoted") == true)
        try fixture.run(.expand, "003_schema_table", in: three)
    }

    /// A plan renaming a column that another plan in progress reads in its expression is
    /// refused, in either order.
    @Test func aColumnReadByAnotherPlansExpressionIsNotChanged() throws {
        let fixture = try EngineFixture("conflict-expr")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
            INSERT INTO users SELECT g, 'U' || g, 'n' || g FROM generate_series(1, 100) AS g;
            """)
        let (one, two) = (try fixture.otherProject("one"), try fixture.otherProject("two"))
        try fixture.writePlan("001_slug", """
            table: users
            changes:
              - add: slug
                type: text
                backfill: "lower(email) || '-' || name"
            """, in: one)
        try fixture.writePlan("002_rename_email", Self.renamePlan("users", to: "mail"), in: two)

        try fixture.run(.expand, "001_slug", in: one)
        let refused = expectRefusal { try fixture.run(.expand, "002_rename_email", in: two) }
        #expect(refused?.gates == ["conflict"], "\(refused?.text ?? "")")
        #expect(refused?.text.contains("\"email\"") == true, "\(refused?.text ?? "")")
        try fixture.run(.rollback, "001_slug", in: one)

        try fixture.run(.expand, "002_rename_email", in: two)
        let reverse = expectRefusal { try fixture.run(.expand, "001_slug", in: one) }
        #expect(reverse?.gates == ["conflict"], "\(reverse?.text ?? "")")
    }

    /// Two plans renaming different columns that share a UNIQUE index and a CHECK: each
    /// rebuilt them over its own new column, and the first contract's DROP COLUMN took the
    /// other's copies, so the second could never verify or contract (hostile-d 13). The second
    /// expand is refused (gate conflict, naming the index and constraint), and `check -d` says
    /// it for plans of one project with no dependency between them.
    @Test func plansOnColumnsSharingAnIndexAreNotInFlightTogether() throws {
        let fixture = try EngineFixture("conflict-shared")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE t (id bigint PRIMARY KEY, a int, b int, c text);
            INSERT INTO t SELECT g, g, g, 'c' FROM generate_series(1, 100) g;
            CREATE UNIQUE INDEX t_a_b_uq ON t (a, b);
            ALTER TABLE t ADD CONSTRAINT t_a_lt_b CHECK (a <= b);
            """)
        try fixture.writePlan("001_rename_a", Self.renamePlan("t", column: "a", to: "a2"))
        try fixture.writePlan("002_rename_b", Self.renamePlan("t", column: "b", to: "b2"))
        let live = try LiveSchema.read(conninfo: fixture.db.conninfo, planTables: fixture.project.loadPlans().plans.map(\.table.value))
        let findings = ProjectCheck.check(project: fixture.project, live: live).filter { $0.rule == "plan-column-conflict" }
        #expect(findings.count == 1 && findings.first?.message.contains("index t_a_b_uq") == true
                && findings.first?.message.contains("constraint t_a_lt_b") == true, "\(findings)")

        let (one, two) = (try fixture.otherProject("one"), try fixture.otherProject("two"))
        try fixture.writePlan("001_rename_a", Self.renamePlan("t", column: "a", to: "a2"), in: one)
        try fixture.writePlan("002_rename_b", Self.renamePlan("t", column: "b", to: "b2"), in: two)
        try fixture.run(.expand, "001_rename_a", in: one)
        let before = try fixture.snapshot("t")
        let refused = expectRefusal { try fixture.run(.expand, "002_rename_b", in: two) }
        #expect(refused?.gates == ["conflict"], "\(refused?.text ?? "")")
        #expect(refused?.text.contains("t_a_b_uq") == true, "\(refused?.text ?? "")")
        #expect(try fixture.snapshot("t") == before)
        for phase in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(phase, "001_rename_a", in: one) }
        try fixture.run(.expand, "002_rename_b", in: two)
        for phase in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(phase, "002_rename_b", in: two) }
    }

    /// A plan adding a foreign key to a column a plan in flight on another table creates is
    /// refused until that plan is contracted (hostile-d 44: both expanded, then the first
    /// plan's rollback failed 2BP01 on its own transitional index, which the key depended on).
    @Test func aForeignKeyToAColumnAPlanInFlightCreatesWaitsForThatPlan() throws {
        let fixture = try EngineFixture("conflict-cross-table-fk")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE customers (id bigint PRIMARY KEY, code text NOT NULL UNIQUE);
            CREATE TABLE orders (id bigint PRIMARY KEY, customer_code text);
            INSERT INTO customers SELECT g, 'C' || g FROM generate_series(1, 20) AS g;
            INSERT INTO orders SELECT g, 'C' || (1 + g % 20) FROM generate_series(1, 100) AS g;
            """)
        try fixture.writePlan("001_customers_code", """
            table: customers
            changes:
              - alter: code
                rename_to: customer_code
            """)
        try fixture.writePlan("002_orders_fk", """
            table: orders
            changes:
              - add_foreign_key: [customer_code]
                references: { table: customers, columns: [customer_code] }
            """)
        try fixture.run(.expand, "001_customers_code")
        let before = try fixture.snapshot("orders")
        let refusal = try #require(expectRefusal { try fixture.run(.expand, "002_orders_fk") })
        #expect(refusal.gates == ["conflict"], "\(refusal.text)")
        #expect(refusal.text.contains("plan 001_customers_code is expanded on customers and changes customer_code"), "\(refusal.text)")
        #expect(try fixture.snapshot("orders") == before)
        // The way back stays open; once 001 is contracted, 002 goes ahead.
        try fixture.run(.rollback, "001_customers_code")
        try fixture.forward("001_customers_code", through: .contract)
        try fixture.forward("002_orders_fk", through: .contract)
        #expect(try fixture.state("002_orders_fk")?.phase == .contracted)
    }
}
