import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import Testing

/// hostile-f 04: `check -d` / `render -d` of a plan queued behind another plan on the same table
/// checked it against a projection that had lost what the live catalog knows (views,
/// publications, indexes made after the first plan's expand): green in CI, refused at expand.
@Suite(needsDatabase)
struct QueuedPlanCheckTests {
    @Test func aPlanBehindAnotherIsCheckedAgainstTheLiveCatalogsViewsAndPublications() throws {
        let fixture = try EngineFixture("queued-check")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE SCHEMA billing;
            CREATE TABLE billing.invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
              currency character(3) DEFAULT 'EUR' NOT NULL, note varchar(200));
            INSERT INTO billing.invoices (note) SELECT 'n' || g FROM generate_series(1, 50) g;
            CREATE PUBLICATION billing_cdc FOR TABLE billing.invoices (id, currency);
            CREATE VIEW billing.inv_cur AS SELECT id, currency FROM billing.invoices;
            """)
        try fixture.writePlan("001_note_text", """
            table: billing.invoices
            changes:
              - alter: note
                type: text
                up: note::text
                down: note::varchar(200)
            """)
        try fixture.writePlan("002_currency_rename", """
            table: billing.invoices
            changes:
              - alter: currency
                rename_to: currency_code
            """)
        func errorsOf002() throws -> [Finding] {
            let live = try LiveSchema.read(conninfo: fixture.db.conninfo, planTables: fixture.project.loadPlans().plans.map(\.table.value))
            return ProjectCheck.check(project: fixture.project, live: live)
                .filter { $0.severity == .error && $0.file.hasSuffix("002_currency_rename.yaml") }
        }
        let queued = try errorsOf002()
        #expect(queued.contains { $0.message.contains("billing_cdc") }, "\(queued)")
        #expect(queued.contains { $0.message.contains("inv_cur") }, "\(queued)")

        // With 001 in flight, an index made on currency since its expand is one 002's expand
        // recreates: render -d shows it.
        try fixture.exec("DROP VIEW billing.inv_cur; DROP PUBLICATION billing_cdc")
        try fixture.run(.expand, "001_note_text")
        try fixture.exec("CREATE INDEX inv_cur_idx ON billing.invoices (currency) WHERE currency <> 'EUR'")
        #expect(try errorsOf002().isEmpty)
        let live = try LiveSchema.read(conninfo: fixture.db.conninfo, planTables: fixture.project.loadPlans().plans.map(\.table.value))
        let sql = try ProjectCheck.render(project: fixture.project, plan: "002_currency_rename", phase: .expand, live: live)
        #expect(sql.contains("inv_cur_idx"), "\(sql.prefix(1500))")
    }
}
