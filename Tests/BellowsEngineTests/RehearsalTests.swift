import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import Testing

/// `bellows rehearse`: deliberately wrong plans are caught, pointing at the plan line
/// responsible; the example plans pass on a private cluster.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct RehearsalTests {
    static let migration = """
        -- Migration: 001_codes
        -- Description: a table of codes
        -- Dependencies: none
        CREATE TABLE codes (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            code varchar(40) NOT NULL,
            weight int NOT NULL DEFAULT 1
        );
        """

    /// Rehearses `plan` (written as plans/001_plan.yaml) on a fresh scratch database.
    func rehearse(_ plan: String) throws -> (report: RehearsalReport, planPath: String) {
        let fixture = try EngineFixture("rehearse")
        defer { fixture.close() }
        try FileManager.default.createDirectory(atPath: fixture.root + "/migrations", withIntermediateDirectories: true)
        try Self.migration.write(toFile: fixture.root + "/migrations/001_codes.sql", atomically: true, encoding: .utf8)
        let path = try fixture.writePlan("001_plan", plan)
        var options = RehearsalOptions()
        options.database = fixture.db.conninfo
        options.rows = 600
        options.batchSize = 100
        let report = try Rehearsal(project: fixture.project, options: options).run()
        return (report, path)
    }

    /// The 1-based line of the first line of `yaml` containing `needle`.
    func line(of needle: String, in yaml: String) -> Int {
        (yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(needle) } ?? -1) + 1
    }

    @Test func aSoundPlanPasses() throws {
        let (report, _) = try rehearse("""
            table: codes
            changes:
              - alter: code
                rename_to: label
                type: text
                up: "code::text"
                down: "label::varchar(40)"
            """)
        #expect(report.passed, "\(report.violations)")
        #expect(report.steps.contains { $0.phase == "contract" && $0.outcome == "ok" && $0.traffic.statements > 0 })
    }

    @Test func aDownThatLosesDataIsCaughtAtItsChange() throws {
        let plan = """
            table: codes
            changes:
              - alter: code
                rename_to: label
                type: text
                up: "code::text"
                down: "left(label, 3)"
            """
        let (report, path) = try rehearse(plan)
        #expect(!report.passed)
        let pointer = "\(path):\(line(of: "- alter: code", in: plan)):"
        #expect(report.violations.contains { $0.contains("disagree with up") && $0.contains(pointer) }, "\(report.violations)")
    }

    @Test func aCheckThatMustFailIsCaughtAtItsLine() throws {
        let plan = """
            table: codes
            changes:
              - alter: weight
                not_null: true
            checks:
              - name: no_heavy_codes
                sql: "SELECT count(*) FROM codes WHERE weight >= 1"
                expect: 0
            """
        let (report, path) = try rehearse(plan)
        #expect(!report.passed)
        let pointer = "\(path):\(line(of: "sql: \"SELECT count(*)", in: plan)):"
        #expect(report.violations.contains { $0.contains("no_heavy_codes") && $0.contains(pointer) && $0.contains("expected 0") }, "\(report.violations)")
    }

    @Test func anUpThatThrowsForSomeRowsIsCaughtAtItsExpression() throws {
        let plan = """
            table: codes
            changes:
              - add: ratio
                type: int
                backfill: "100 / (id % 7)"
            """
        let (report, path) = try rehearse(plan)
        #expect(!report.passed)
        let pointer = "\(path):\(line(of: "backfill:", in: plan)):"
        #expect(report.violations.contains { $0.contains("22012") && $0.contains(pointer) }, "\(report.violations)")
    }

    @Test func refusesADatabaseThatHoldsSomethingElse() throws {
        let fixture = try EngineFixture("rehearse")
        defer { fixture.close() }
        try fixture.exec("CREATE TABLE precious (id int)")
        var options = RehearsalOptions()
        options.database = fixture.db.conninfo
        #expect(throws: BellowsError.self) { try Rehearsal(project: fixture.project, options: options).run() }
        #expect(try fixture.int("SELECT count(*) FROM pg_tables WHERE tablename = 'precious'") == 1)
    }

    /// Issue 17's corpus (shop 018–021): a smallint column that closes a composite key
    /// (`order_items (order_id, line_no smallint)`) took the writers' fresh row numbers, which
    /// start at 50,000,000: every write to the table failed with 22003 (smallint out of range).
    @Test func writersKeepASmallintKeyColumnInItsRange() throws {
        let fixture = try EngineFixture("smallintkey")
        defer { fixture.close() }
        try FileManager.default.createDirectory(atPath: fixture.root + "/migrations", withIntermediateDirectories: true)
        try """
            -- Migration: 001_lines
            -- Description: orders and their lines, numbered by a smallint
            -- Dependencies: none
            CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text);
            CREATE TABLE lines (
                order_id bigint NOT NULL REFERENCES orders (id),
                line_no smallint NOT NULL,
                qty integer NOT NULL,
                PRIMARY KEY (order_id, line_no)
            );
            """.write(toFile: fixture.root + "/migrations/001_lines.sql", atomically: true, encoding: .utf8)
        _ = try fixture.writePlan("001_plan", """
            table: lines
            changes:
              - alter: qty
                rename_to: quantity
            """)
        var options = RehearsalOptions()
        options.database = fixture.db.conninfo
        options.rows = 100
        options.batchSize = 50
        let report = try Rehearsal(project: fixture.project, options: options).run()
        #expect(report.violations.isEmpty, "\(report.violations.prefix(3))")
        #expect(report.steps.contains { $0.phase == "backfill" && $0.traffic.statements > 0 })
    }

    /// Issue 17's corpus (shop 018): `add_unique: [order_id, product_id]` on a table whose
    /// writers drew both columns from their parents by row number: their pairs repeated the
    /// seed's, and the concurrent index build at expand failed with 23505.
    @Test func writersNeverRepeatAMultiColumnUniqueThePlanAdds() throws {
        let fixture = try EngineFixture("addunique")
        defer { fixture.close() }
        try FileManager.default.createDirectory(atPath: fixture.root + "/migrations", withIntermediateDirectories: true)
        try """
            -- Migration: 001_items
            -- Description: orders, products and order items
            -- Dependencies: none
            CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text);
            CREATE TABLE products (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, title text);
            CREATE TABLE items (
                order_id bigint NOT NULL REFERENCES orders (id),
                line_no integer NOT NULL,
                product_id bigint NOT NULL REFERENCES products (id),
                qty integer NOT NULL,
                PRIMARY KEY (order_id, line_no)
            );
            """.write(toFile: fixture.root + "/migrations/001_items.sql", atomically: true, encoding: .utf8)
        _ = try fixture.writePlan("001_plan", """
            table: items
            changes:
              - add_unique: [order_id, product_id]
            """)
        var options = RehearsalOptions()
        options.database = fixture.db.conninfo
        options.rows = 100
        options.batchSize = 50
        let report = try Rehearsal(project: fixture.project, options: options).run()
        #expect(report.violations.isEmpty, "\(report.violations.prefix(3))")
        #expect(report.steps.contains { $0.phase == "contract" && $0.outcome == "ok" && $0.traffic.statements > 0 })
    }

    /// Issue 17's corpus (shop 022, ledger 015): a multi-column foreign key, the table's own
    /// (`returns`) or one a plan adds (`shipments`): the seed and the writers drew each column
    /// from its own parent array (or from the column's type), so their pairs were no row of
    /// `lines` (23503 in the seed, in every write once expand added the NOT VALID key, and at
    /// verify's VALIDATE). Now the key's columns take one parent row together.
    @Test func seedAndWritersWriteWholeReferencedTuples() throws {
        let fixture = try EngineFixture("compositefk")
        defer { fixture.close() }
        try FileManager.default.createDirectory(atPath: fixture.root + "/migrations", withIntermediateDirectories: true)
        try """
            -- Migration: 001_lines
            -- Description: orders, their lines, shipments and returns of lines
            -- Dependencies: none
            CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text);
            CREATE TABLE lines (
                order_id bigint NOT NULL REFERENCES orders (id),
                line_no smallint NOT NULL,
                qty integer NOT NULL,
                PRIMARY KEY (order_id, line_no)
            );
            CREATE TABLE shipments (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                order_id bigint NOT NULL,
                line_no smallint NOT NULL,
                carrier text NOT NULL DEFAULT 'post'
            );
            CREATE TABLE returns (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                order_id bigint NOT NULL,
                line_no smallint NOT NULL,
                reason text,
                FOREIGN KEY (order_id, line_no) REFERENCES lines (order_id, line_no)
            );
            """.write(toFile: fixture.root + "/migrations/001_lines.sql", atomically: true, encoding: .utf8)
        _ = try fixture.writePlan("001_plan", """
            table: shipments
            changes:
              - add_foreign_key: [order_id, line_no]
                references: { table: lines, columns: [order_id, line_no] }
            """)
        _ = try fixture.writePlan("002_plan", """
            table: returns
            changes:
              - alter: reason
                rename_to: cause
            """)
        var options = RehearsalOptions()
        options.database = fixture.db.conninfo
        options.rows = 100
        options.batchSize = 50
        let report = try Rehearsal(project: fixture.project, options: options).run()
        #expect(report.violations.isEmpty, "\(report.violations.prefix(3))")
        #expect(report.tableRows["public.returns"] == 100 && report.tableRows["public.shipments"] == 100, "\(report.tableRows)")
        for plan in ["001_plan", "002_plan"] {
            #expect(report.steps.contains { $0.plan == plan && $0.phase == "contract" && $0.outcome == "ok" && $0.traffic.statements > 0 }, "\(plan)")
        }
    }

    /// A text column whose CHECK lists its values (`kind IN (…)`, a varchar one stored as
    /// `= ANY (ARRAY[…]::text[])`): the generator wrote 'kind 1', the CHECK refused every
    /// variant and the table stayed empty. Now the values come from the list, in the seed and
    /// from the writers; also for a list a plan's `add_check` brings.
    @Test func aCheckListingValuesGivesTheColumnsDomain() throws {
        let fixture = try EngineFixture("checklist")
        defer { fixture.close() }
        try FileManager.default.createDirectory(atPath: fixture.root + "/migrations", withIntermediateDirectories: true)
        try """
            -- Migration: 001_accounts
            -- Description: accounts of listed kinds
            -- Dependencies: none
            CREATE TABLE accounts (
                id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                kind text NOT NULL CHECK (kind IN ('asset', 'liability', 'equity')),
                status varchar(12) NOT NULL CHECK (status IN ('open', 'frozen')),
                tier text NOT NULL
            );
            """.write(toFile: fixture.root + "/migrations/001_accounts.sql", atomically: true, encoding: .utf8)
        _ = try fixture.writePlan("001_plan", """
            table: accounts
            changes:
              - add_check: "tier IN ('gold', 'silver')"
              - alter: kind
                rename_to: category
            """)
        var options = RehearsalOptions()
        options.database = fixture.db.conninfo
        options.rows = 100
        options.batchSize = 50
        let report = try Rehearsal(project: fixture.project, options: options).run()
        #expect(report.tableRows["public.accounts"] == 100, "\(report.tableRows)")
        #expect(report.violations.isEmpty, "\(report.violations.prefix(3))")
        #expect(report.steps.contains { $0.phase == "contract" && $0.outcome == "ok" && $0.traffic.statements > 0 })
    }

    /// The README's main job: the example plans on a private cluster (as root, the server runs
    /// as the postgres user), including rollback from every phase.
    @Test func theExamplePlansPassOnAPrivateCluster() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        var options = RehearsalOptions()
        options.rows = 800
        let notes = Shared<[String]>([])
        let report = try Rehearsal(project: Project(root: root), options: options) { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        }.run()
        #expect(report.passed, "\(report.violations)")
        // scripts/test points BELLOWS_PG_BINDIR at the version under test: `scripts/demo --pg-bindir`
        // on that version is this rehearsal, so the scratch cluster must run it.
        if ProcessInfo.processInfo.environment["BELLOWS_PG_BINDIR"] != nil {
            let server = try TestDatabase.create("rehearsalversion")
            defer { server.drop() }
            let connection = try server.connect()
            defer { connection.close() }
            let ready = notes.current.first { $0.hasPrefix("cluster ready") } ?? "no 'cluster ready' note"
            #expect(ready.contains("(PostgreSQL) \(connection.serverVersion / 10_000).") , "the suite runs on \(connection.serverVersion): \(ready)")
        }
        let plans = Set(report.steps.map(\.plan)).subtracting(["-"])
        #expect(plans.count == Project(root: root).planFiles().count)
        #expect(report.steps.filter { $0.phase.hasPrefix("rollback after") }.count == plans.count * 3)
    }

    /// hostile-f 10: migrations hand objects to an owner role and grant to application roles,
    /// which exist on the real cluster but not in the private one: the rehearsal created none
    /// and stopped at the first `OWNER TO` (42704). The scratch cluster now creates them
    /// (NOLOGIN), applies the migration again and says which.
    @Test func migrationsNamingRolesRehearseOnAPrivateCluster() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-roles-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/migrations", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try """
            -- Migration: 001_initial
            -- Description: billing, owned by app_owner, granted to app_rw
            -- Dependencies: none
            CREATE SCHEMA billing;
            ALTER SCHEMA billing OWNER TO app_owner;
            CREATE TABLE billing.invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note varchar(200));
            ALTER TABLE billing.invoices OWNER TO app_owner;
            GRANT SELECT, INSERT, UPDATE ON TABLE billing.invoices TO app_rw;
            """.write(toFile: root + "/migrations/001_initial.sql", atomically: true, encoding: .utf8)
        try "table: billing.invoices\nchanges:\n  - alter: note\n    type: text\n    up: note::text\n    down: note::varchar(200)\n"
            .write(toFile: root + "/plans/001_note.yaml", atomically: true, encoding: .utf8)
        var options = RehearsalOptions()
        options.rows = 100
        options.rollbacks = false
        let notes = Shared<[String]>([])
        let report = try Rehearsal(project: Project(root: root), options: options) { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        }.run()
        #expect(report.passed, "\(report.violations)")
        #expect(report.steps.contains { $0.phase == "contract" && $0.outcome == "ok" }, "\(report.steps.map(\.phase))")
        #expect(notes.current.contains { $0.contains("app_owner") && $0.contains("app_rw") && $0.contains("NOLOGIN") }, "\(notes.current)")
    }

    /// Issue 14: the schema feature scenarios (`bellows rehearse --schema-features`, run by
    /// scripts/demo) pass: each carried feature is intact after contract under traffic and
    /// every rollback is exact; the view and the partitioned table are refused before any change.
    @Test func theSchemaFeatureScenariosPass() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-features-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var options = RehearsalOptions()
        options.rows = 100
        options.schemaFeatures = true
        let report = try Rehearsal(project: Project(root: root), options: options).run()
        #expect(report.passed, "\(report.violations)")
        for scenario in SchemaFeatures.scenarios {
            let steps = report.steps.filter { $0.plan == scenario.id }
            if scenario.refusal != nil {
                #expect(steps.map(\.outcome) == ["refused"], "\(scenario.id): \(steps.map(\.phase))")
            } else {
                #expect(steps.filter { $0.outcome == "ok" }.map(\.phase) == ["expand", "backfill", "verify", "contract",
                        "rollback after expand", "rollback after backfill", "rollback after verify"], "\(scenario.id)")
                #expect(steps.contains { $0.phase == "backfill" && $0.traffic.statements > 0 }, "\(scenario.id): no traffic")
            }
        }
    }

    /// The facts comparison sees a property that contract lost, and reads a carried one as intact.
    @Test func schemaFactsSeeALostPredicate() {
        let before = SchemaFacts(lines: [
            "column email: text NOT NULL",
            "index f_live_email_key: CREATE UNIQUE INDEX ON public.f USING btree (email) WHERE (NOT deleted)",
        ])
        let renames = ["email": "address"]
        let intact = SchemaFacts(lines: [
            "index f_live_address_key: CREATE UNIQUE INDEX ON public.f USING btree (address) WHERE (NOT deleted)",
            "column address: text NOT NULL",
        ])
        #expect(before.renamed(renames).difference(to: intact.normalized).isEmpty)
        let lost = SchemaFacts(lines: [
            "column address: text NOT NULL",
            "index f_address_key: CREATE UNIQUE INDEX ON public.f USING btree (address)",
        ])
        #expect(before.renamed(renames).difference(to: lost.normalized) == [
            "- index f_live_address_key: CREATE UNIQUE INDEX ON public.f USING btree (address) WHERE (NOT deleted)",
            "+ index f_address_key: CREATE UNIQUE INDEX ON public.f USING btree (address)",
        ])
    }
}
