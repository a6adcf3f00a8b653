import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// A table a publication sends whole would replicate expand's new columns, stopping every
/// subscriber whose table lacks them (hostile finding 2026-12-02b/15): expand refuses, naming it.
@Suite(needsDatabase)
struct PublicationTests {
    @Test func expandRefusesATablePublishedWithoutAColumnList() throws {
        let fixture = try EngineFixture("publication")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 10) g;
            CREATE PUBLICATION pub_users FOR TABLE users;
            """)
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: users
            changes:
              - alter: email
                rename_to: email_address
            """)
        let before = try fixture.snapshot("users")
        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(refusal?.gates == ["publication"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("pub_users") == true, "\(refusal?.text ?? "")")
        let after = try fixture.snapshot("users")
        #expect(before == after, "\(before.difference(to: after))")
        // With a column list that leaves the new columns out, expand goes ahead.
        try fixture.exec("ALTER PUBLICATION pub_users SET TABLE users (id)")
        try fixture.run(.expand, id)
        #expect(try fixture.state(id)?.phase == .expanded)
    }

    /// hostile-f 08: `check -d` and `render -d` were green for a plan expand refuses from the
    /// catalog alone (a publication sending the table whole, FORCE'd row security): they now say
    /// it, at the plan's `table:`.
    @Test func checkAndRenderAgainstTheDatabaseSayWhatExpandWouldRefuse() throws {
        let fixture = try EngineFixture("publication-check")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);
            CREATE PUBLICATION pub_all FOR ALL TABLES;
            CREATE TABLE notes (id bigint PRIMARY KEY, body text);
            ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
            ALTER TABLE notes FORCE ROW LEVEL SECURITY;
            """)
        try fixture.writePlan("001_rename_email", "table: users\nchanges:\n  - alter: email\n    rename_to: email_address\n")
        try fixture.writePlan("002_rename_body", "table: notes\nchanges:\n  - alter: body\n    rename_to: text\n")
        let live = try LiveSchema.read(conninfo: fixture.db.conninfo, planTables: fixture.project.loadPlans().plans.map(\.table.value))
        let refused = ProjectCheck.check(project: fixture.project, live: live).filter { $0.rule == "plan-table-refused" }
        #expect(refused.map { "\(($0.file as NSString).lastPathComponent):\($0.line):\($0.column)" }
                == ["001_rename_email.yaml:1:8", "002_rename_body.yaml:1:8"], "\(refused)")
        #expect(refused.first?.message.contains("pub_all") == true && refused.allSatisfy { $0.severity == .error })
        let sql = try ProjectCheck.render(project: fixture.project, plan: "001_rename_email", phase: .expand, live: live)
        #expect(sql.contains("-- expand would refuse (gate publication)"), "\(sql.prefix(600))")
        try fixture.exec("DROP PUBLICATION pub_all")
    }

    /// hostile-d 18: a plan of table constraints alone adds no column, so a publication sending
    /// the table whole does not stop it; a plan dropping the published table's replica identity
    /// index is refused before expand (and by check -d), not at contract by the writability proof.
    @Test func aConstraintsOnlyPlanRunsOnAPublishedTableAndTheReplicaIdentityIsKept() throws {
        let fixture = try EngineFixture("publication-constraints")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE orders (id bigint PRIMARY KEY, code text NOT NULL, qty int, CONSTRAINT orders_qty_positive CHECK (qty > 0));
            CREATE PUBLICATION orders_pub FOR TABLE orders;
            INSERT INTO orders SELECT g, 'C' || g, g FROM generate_series(1, 50) g;
            CREATE TABLE items (id bigint PRIMARY KEY, sku text NOT NULL, CONSTRAINT items_sku_key UNIQUE (sku));
            ALTER TABLE items REPLICA IDENTITY USING INDEX items_sku_key;
            CREATE PUBLICATION items_pub FOR TABLE items (id, sku);
            INSERT INTO items SELECT g, 'S' || g FROM generate_series(1, 50) g;
            """)
        try fixture.writePlan("001_constraints_only", """
            table: orders
            changes:
              - add_check: "qty < 1000000"
              - add_unique: [code]
              - drop_constraint: orders_qty_positive
            """)
        try fixture.writePlan("002_drop_identity", "table: items\nchanges:\n  - drop_constraint: items_sku_key\n")
        let live = try LiveSchema.read(conninfo: fixture.db.conninfo, planTables: fixture.project.loadPlans().plans.map(\.table.value))
        let refused = ProjectCheck.check(project: fixture.project, live: live).filter { $0.rule == "plan-table-refused" }
        #expect(refused.map { ($0.file as NSString).lastPathComponent } == ["002_drop_identity.yaml"], "\(refused)")
        #expect(refused.first?.message.contains("gate replica-identity") == true && refused.first?.message.contains("items_pub") == true, "\(refused)")

        for phase in [PhaseCommand.expand, .backfill, .verify, .contract] { try fixture.run(phase, "001_constraints_only") }
        #expect(try fixture.state("001_constraints_only")?.phase == .contracted)

        let before = try fixture.snapshot("items")
        let refusal = expectRefusal { try fixture.run(.expand, "002_drop_identity") }
        #expect(refusal?.gates == ["replica-identity"], "\(refusal?.text ?? "")")
        #expect(try fixture.snapshot("items") == before)
        try fixture.exec("DROP PUBLICATION orders_pub; DROP PUBLICATION items_pub")
    }
}
