import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing

@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct BaselineTests {
    static func runner(_ f: EngineFixture) -> MigrationRunner {
        MigrationRunner(project: f.project, options: MigrationOptions(conninfo: f.db.conninfo, actor: "baseline-tests"))
    }

    static func ledger(_ connection: Connection) throws -> [[String?]] {
        try connection.query("SELECT name, checksum FROM bellows.migrations ORDER BY name").map(\.values)
    }

    @Test func baselineIsRecordedIdempotentAndReproducesTheSchema() throws {
        let f = try EngineFixture("baseline")
        defer { f.close() }
        try f.exec(ExistingDatabase.schemaSQL + ExistingDatabase.dataSQL)
        let first = try Self.runner(f).baseline()
        #expect(first.outcome == .created)
        let path = f.root + "/migrations/000_baseline.sql"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(!text.contains("\\restrict") && !text.contains("set_config('search_path'") && !text.contains("OWNER TO"))
        #expect(!text.contains("bellows."), "the state schema is not part of the baseline")
        #expect(try Self.ledger(f.sql) == [["000_baseline", SHA256.hex(Array(text.utf8))]])

        // Again, unchanged: nothing happens; migrate has nothing to apply.
        #expect(try Self.runner(f).baseline().outcome == .unchanged)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
        #expect(try Self.ledger(f.sql).count == 1)
        #expect(try Self.runner(f).plan().pending.isEmpty)

        // Lint and check accept the file; the offline model reads its tables as the catalog does.
        let findings = ProjectCheck.check(project: f.project)
        #expect(findings.filter { $0.severity != .info }.isEmpty, "\(findings.map(\.description))")
        let offline = MigrationSchema.catalog(fromMigrations: [text])
        for name in ["customers", "orders", "employees", "billing.invoices"] {
            let tableName = try #require(TableName(parsing: name))
            let live = try #require(try CatalogReader.table(f.sql, tableName))
            let model = try #require(offline.table(tableName), "\(name) missing offline")
            #expect(model.columns == live.columns, "\(name): columns")
            #expect(model.primaryKey == live.primaryKey, "\(name): primary key")
            #expect(model.indexes.sorted { $0.name < $1.name } == live.indexes.sorted { $0.name < $1.name }, "\(name): indexes")
            func constraints(_ t: TableInfo) -> [String] {
                t.constraints.map { "\($0.kind) \($0.name) \($0.columns) \($0.kind == "c" ? "" : $0.definition)" }.sorted()
            }
            #expect(constraints(model) == constraints(live), "\(name): constraints")
        }

        // migrate onto an empty database builds the same schema.
        let empty = try TestDatabase.create("baseline_copy")
        defer { empty.drop() }
        let applied = try MigrationRunner(project: f.project, options: MigrationOptions(conninfo: empty.conninfo, actor: "baseline-tests")).apply()
        #expect(applied.map(\.name) == ["000_baseline"])
        let pgDump = try PgDump.find(explicit: nil, serverMajor: 0)
        let original = PgDump.migrationText(try PgDump.schema(conninfo: f.db.conninfo, pgDump: pgDump), header: [])
        let copy = PgDump.migrationText(try PgDump.schema(conninfo: empty.conninfo, pgDump: pgDump), header: [])
        #expect(original == copy)

        // The same schema elsewhere: the file is recorded there, not rewritten.
        let other = try TestDatabase.create("baseline_other")
        defer { other.drop() }
        let otherConnection = try other.connect()
        defer { otherConnection.close() }
        try otherConnection.executeScript(ExistingDatabase.schemaSQL)
        let recorded = try MigrationRunner(project: f.project, options: MigrationOptions(conninfo: other.conninfo, actor: "t")).baseline()
        #expect(recorded.outcome == .recorded)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
        #expect(try Self.ledger(otherConnection) == [["000_baseline", SHA256.hex(Array(text.utf8))]])
    }

    @Test func aChangedSchemaIsRefusedWithWhatDiffers() throws {
        let f = try EngineFixture("baseline_drift")
        defer { f.close() }
        try f.exec(ExistingDatabase.schemaSQL)
        try Self.runner(f).baseline()
        let path = f.root + "/migrations/000_baseline.sql"
        let before = try String(contentsOfFile: path, encoding: .utf8)
        try f.exec("ALTER TABLE customers ADD COLUMN phone text")
        do {
            try Self.runner(f).baseline()
            Issue.record("a changed schema was accepted")
        } catch let refusal as MigrationRefusal {
            #expect(refusal.problems.map(\.gate) == ["drift"])
            #expect(refusal.description.contains("+     phone text"), "\(refusal)")
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == before)
        #expect(try Self.ledger(f.sql).count == 1)
    }

    @Test func aProjectWithMigrationsIsToldWhatToDoInstead() throws {
        let f = try EngineFixture("baseline_existing")
        defer { f.close() }
        try f.exec(ExistingDatabase.schemaSQL)
        try FileManager.default.createDirectory(atPath: f.root + "/migrations", withIntermediateDirectories: true)
        try "CREATE TABLE t (id int PRIMARY KEY);\n".write(toFile: f.root + "/migrations/001_t.sql", atomically: true, encoding: .utf8)
        do {
            try Self.runner(f).baseline()
            Issue.record("baseline ran in a project with migrations")
        } catch let refusal as MigrationRefusal {
            #expect(refusal.problems.map(\.gate) == ["existing-migrations"])
            #expect(refusal.description.contains("001_t") && refusal.description.contains("check --database"))
        }
        #expect(!FileManager.default.fileExists(atPath: f.root + "/migrations/000_baseline.sql"))
        #expect(try f.int("SELECT count(*) FROM pg_namespace WHERE nspname = 'bellows'") == 0)
    }

    @Test func aMissingPgDumpDirectoryIsAnError() throws {
        #expect(throws: BellowsError.self) { try PgDump.find(explicit: "/nonexistent", serverMajor: 15) }
    }
}

@Suite struct PgDumpTextTests {
    @Test func psqlMetaCommandsAndSessionSettingsAreDropped() {
        let dump = """
            --
            -- PostgreSQL database dump
            --

            \\restrict abc123

            -- Dumped from database version 15.18
            -- Dumped by pg_dump version 15.18

            SET statement_timeout = 0;
            SELECT pg_catalog.set_config('search_path', '', false);
            SET check_function_bodies = false;


            CREATE TABLE public.t (
                id integer NOT NULL
            );

            \\unrestrict abc123

            """
        let text = PgDump.migrationText(dump, header: ["-- Migration: 000_baseline"])
        #expect(text == """
            -- Migration: 000_baseline

            SET LOCAL check_function_bodies = off;

            --
            -- PostgreSQL database dump
            --


            CREATE TABLE public.t (
                id integer NOT NULL
            );

            """)
        #expect(PgDump.versionMajor(in: "pg_dump (PostgreSQL) 18.6") == 18)
    }

    @Test func thePasswordGoesToTheEnvironmentNotTheCommandLine() {
        let uri = PgDump.connectionArguments("postgresql://app:s3cr%27et@db.example.org:6432/shop?sslmode=require")
        #expect(uri.password == "s3cr'et")
        #expect(uri.dbname == "user='app' dbname='shop' host='db.example.org' port='6432' sslmode='require'", "\(uri.dbname ?? "")")
        let pairs = PgDump.connectionArguments(#"host=/tmp dbname='it\'s' password='a b\'c'"#)
        #expect(pairs.password == "a b'c")
        #expect(pairs.dbname == #"dbname='it\'s' host='/tmp'"#, "\(pairs.dbname ?? "")")
        #expect(PgDump.connectionArguments(nil).dbname == nil)
        #expect(PgDump.connectionArguments("postgresql://[::1").dbname == "postgresql://[::1", "unparsable: as given, for pg_dump to report")
    }

}

/// `check --database`: plans against the live catalog, with the plans' state on that database.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct LiveSchemaTests {
    static let rename = """
        table: customers
        changes:
          - alter: name
            rename_to: full_name
        """
    static let retype = """
        table: customers
        depends_on:
          plans: [001_rename_customers_name]
        changes:
          - alter: full_name
            type: varchar(300)
            up: left(full_name, 300)
            down: full_name
        """

    @Test func plansInFlightAreCheckedAsExpandSawTheTableAndLaterOnesAfterTheirContract() throws {
        let f = try EngineFixture("live_schema")
        defer { f.close() }
        try f.exec(ExistingDatabase.schemaSQL + ExistingDatabase.dataSQL)
        try f.writePlan("001_rename_customers_name", Self.rename)
        try f.writePlan("002_retype_customers_full_name", Self.retype)
        func check() throws -> [Finding] {
            ProjectCheck.check(project: f.project, live: try LiveSchema.read(conninfo: f.db.conninfo))
        }
        // Before expand: 002 reads a column only 001 creates, and is checked against the table as
        // 001's contract will leave it (chained plans), so neither has an error.
        let before = try check()
        #expect(before.filter { $0.severity == .error }.isEmpty, "\(before.map(\.description))")
        #expect(before.contains { $0.rule == "schema-source" && $0.file.hasSuffix("002_retype_customers_full_name.yaml")
            && $0.message.contains("once 001_rename_customers_name is contracted") }, "\(before.map(\.description))")

        try f.run(.expand, "001_rename_customers_name")
        let expanded = try check()
        #expect(expanded.filter { $0.severity == .error }.isEmpty, "\(expanded.map(\.description))")
        #expect(expanded.contains { $0.rule == "schema-source" && $0.message.contains("001_rename_customers_name is expanded") })
        #expect(expanded.contains { $0.rule == "schema-source" && $0.message.contains("once 001_rename_customers_name is contracted") })
        let rendered = try ProjectCheck.render(project: f.project, plan: "002", phase: .expand, live: try LiveSchema.read(conninfo: f.db.conninfo))
        #expect(rendered.hasPrefix("-- schema: the database \"\(f.db.name)\""), "\(rendered)")

        for phase in [PhaseCommand.backfill, .verify, .contract] { try f.run(phase, "001_rename_customers_name") }
        let contracted = try check()
        #expect(contracted.filter { $0.severity == .error }.isEmpty, "\(contracted.map(\.description))")
        #expect(contracted.contains { $0.rule == "schema-source" && $0.message.contains("001_rename_customers_name is contracted") })
        #expect(throws: BellowsError.self) {
            try ProjectCheck.render(project: f.project, plan: "001", phase: nil, live: try LiveSchema.read(conninfo: f.db.conninfo))
        }
    }
}

/// `rehearse --from --sample`: the copy's rows satisfy every foreign key, and the source is not written.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct SourceSampleTests {
    @Test func sampledRowsBringTheRowsTheyReference() throws {
        let f = try EngineFixture("sample_source")
        defer { f.close() }
        try f.exec(ExistingDatabase.schemaSQL + ExistingDatabase.dataSQL + "\nCREATE PUBLICATION audit_pub;")
        let scratch = try TestDatabase.create("sample_copy")
        defer { scratch.drop() }
        var options = RehearsalOptions()
        options.database = scratch.conninfo
        options.from = f.db.conninfo
        options.sample = 10
        let report = try Rehearsal(project: f.project, options: options).run()
        #expect(report.passed, "\(report.violations)")
        // Publications are not copied: the rehearsal says so (hostile-f 04).
        #expect(report.warnings.contains { $0.contains("publications are not copied (audit_pub)") }, "\(report.warnings)")
        let copy = try scratch.connect()
        defer { copy.close() }
        func count(_ sql: String) throws -> Int { try copy.query(sql).first?.int("n") ?? -1 }
        #expect(try count("SELECT count(*) AS n FROM billing.invoices") == 10)
        #expect(try count("SELECT count(*) AS n FROM orders") >= 10)
        // Every reference resolves in the copy (the copy was loaded without foreign-key triggers).
        #expect(try count("SELECT count(*) AS n FROM billing.invoices i WHERE NOT EXISTS (SELECT FROM orders o WHERE o.id = i.order_id)") == 0)
        #expect(try count("SELECT count(*) AS n FROM orders o WHERE NOT EXISTS (SELECT FROM customers c WHERE c.id = o.customer_id)") == 0)
        #expect(try count("SELECT count(*) AS n FROM employees e WHERE manager_id IS NOT NULL AND NOT EXISTS (SELECT FROM employees m WHERE m.id = e.manager_id)") == 0)
        // Rows are the source's, and sequences continue after the source's.
        #expect(try count("SELECT count(*) AS n FROM customers WHERE email <> 'c' || id || '@example.org'") == 0)
        #expect(try count("SELECT nextval('customers_id_seq') AS n") == 301)
        #expect(try count("SELECT count(*) AS n FROM bellows.migrations") == 0)
    }
}
