import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing
@testable import BellowsEngine

/// A project directory with `migrations/`, `migrations/rollback/`, `migrations/tests/`, `plans/`.
struct MigrationTestProject {
    let root: String

    init() throws {
        root = (NSTemporaryDirectory() as NSString).appendingPathComponent("bellows-migtest-\(UUID().uuidString)")
        for directory in ["migrations/rollback", "migrations/tests", "plans"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
    }

    var project: Project { Project(root: root) }

    func write(_ relative: String, _ text: String) throws {
        try text.write(toFile: root + "/" + relative, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// Issue 24, migration tests: pure parts (the `check` rule, locating an error in a test file).
struct MigrationTestFileTests {
    @Test func checkReportsATestThatNamesNoMigration() throws {
        let files = try MigrationTestProject()
        defer { files.remove() }
        try files.write("migrations/001_widgets.sql", "CREATE TABLE widgets (id int PRIMARY KEY);\n")
        try files.write("migrations/tests/001_widgets_accept_rows.sql", "INSERT INTO widgets VALUES (1);\n")
        try files.write("migrations/tests/004_test_verifier_specializations.sql", "SELECT 1;\n")
        try files.write("migrations/tests/smoke.sql", "SELECT 1;\n")
        let findings = ProjectCheck.check(project: files.project).filter { $0.rule == MigrationTestCheck.rule }
        #expect(findings.count == 2, "\(findings)")
        let orphan = try #require(findings.first { $0.file.hasSuffix("tests/004_test_verifier_specializations.sql") })
        #expect(orphan.severity == .error)
        #expect(orphan.line == 1 && orphan.column == 1)
        #expect(orphan.message.contains("belongs to migration 004, which does not exist"), "\(orphan.message)")
        #expect(orphan.description.hasSuffix("[migration-test-orphan]"))
        let unnumbered = try #require(findings.first { $0.file.hasSuffix("tests/smoke.sql") })
        #expect(unnumbered.message.contains("must start with the number of the migration"))
    }

    @Test func aRaiseInADoBlockIsLocatedAtItsLineInTheFile() throws {
        let text = """
            -- test
            INSERT INTO t VALUES (1);
            DO $$
            BEGIN
                IF true THEN
                    RAISE EXCEPTION 'boom';
                END IF;
            END
            $$;
            """
        let statements = MigrationFile.analyze(text).executableStatements
        var error = PostgresError(kind: .server, message: "boom", sqlState: SQLState("P0001"))
        error.context = "PL/pgSQL function inline_code_block line 4 at RAISE"
        let located = MigrationTestRunner.locate(error, statement: statements[1], text: text)
        #expect(located.line == 6 && located.column == 9, "\(located)")
        // A position inside a statement is mapped to the file.
        var positioned = PostgresError(kind: .server, message: "column \"nme\" does not exist", sqlState: SQLState("42703"))
        positioned.position = 23
        let first = MigrationTestRunner.locate(positioned, statement: statements[0], text: text)
        #expect(first.line == 2 && first.column == 23, "\(first)")
    }
}

/// Issue 24, migration tests against a real PostgreSQL: `migrate --test` on a scratch copy of the
/// target, and `rehearse`.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct MigrationTestingTests {
    static let widgets = """
        -- Migration: 001_widgets
        CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);
        """

    static let price = """
        -- Migration: 002_widget_price
        ALTER TABLE widgets ADD COLUMN price numeric NOT NULL DEFAULT 0;
        """

    /// Line 6 raises.
    static let raisingTest = """
        -- A new widget costs 1 by default (it does not: the migration says 0).
        INSERT INTO widgets (id, name) VALUES (1, 'a');
        DO $$
        BEGIN
            IF (SELECT price FROM widgets WHERE id = 1) <> 1 THEN
                RAISE EXCEPTION 'price defaults to %, expected 1', (SELECT price FROM widgets WHERE id = 1);
            END IF;
        END
        $$;
        """

    static let passingTest = """
        BEGIN;
        INSERT INTO widgets (id, name) VALUES (1, 'a');
        DO $$
        BEGIN
            IF (SELECT price FROM widgets WHERE id = 1) <> 0 THEN
                RAISE EXCEPTION 'price must default to 0';
            END IF;
        END
        $$;
        COMMIT;
        """

    @Test func aMigrationTestThatRaisesFailsMigrateTestWithItsLocationAndTheTargetIsUnchanged() throws {
        let db = try TestDatabase.create("migtest")
        defer { db.drop() }
        let files = try MigrationTestProject()
        defer { files.remove() }
        try files.write("migrations/001_widgets.sql", Self.widgets)
        var options = MigrationOptions(conninfo: db.conninfo, actor: "tester")
        options.retryDelayMilliseconds = 10
        try MigrationRunner(project: files.project, options: options).apply()
        try files.write("migrations/002_widget_price.sql", Self.price)
        try files.write("migrations/tests/002_a_price_defaults_to_zero.sql", Self.passingTest)
        try files.write("migrations/tests/002_b_price_defaults_to_one.sql", Self.raisingTest)
        try files.write("migrations/tests/002_c_typo.sql", "SELECT id,\n       nme FROM widgets;\n")

        let connection = try db.connect()
        defer { connection.close() }
        let before = try DatabaseSnapshot.take(connection)
        let ledgerBefore = try connection.query("SELECT name, checksum FROM bellows.migrations ORDER BY name").map { try $0.string("name") + $0.string("checksum") }
        let eventsBefore = try connection.query("SELECT count(*) AS n FROM bellows.events").first?.int("n")

        let report = try MigrationRunner(project: files.project, options: options).test()
        #expect(report.alreadyApplied == 1)
        #expect(report.applied == 1)
        #expect(report.migrations.map(\.migration) == ["002_widget_price"])
        let tests = try #require(report.migrations.first?.tests)
        #expect(tests.map(\.test) == ["002_a_price_defaults_to_zero", "002_b_price_defaults_to_one", "002_c_typo"])
        #expect(tests[0].passed, "\(String(describing: tests[0].failure))")
        let raised = try #require(tests[1].failure)
        #expect(raised.file.hasSuffix("migrations/tests/002_b_price_defaults_to_one.sql"))
        #expect(raised.line == 6 && raised.column == 9, "\(raised.location)")
        #expect(raised.sqlState == "P0001")
        #expect(raised.message == "price defaults to 0, expected 1")
        #expect(raised.description.contains("002_b_price_defaults_to_one.sql:6:9: ERROR P0001: price defaults to 0, expected 1"))
        let typo = try #require(tests[2].failure)
        #expect(typo.line == 2 && typo.column == 8 && typo.sqlState == "42703", "\(typo.description)")
        #expect(!report.passed && report.testFailures.count == 2)

        // The target is as it was: no price column, no widget, the same ledger, no event.
        #expect(try DatabaseSnapshot.take(connection) == before)
        #expect(try connection.query("SELECT name, checksum FROM bellows.migrations ORDER BY name").map { try $0.string("name") + $0.string("checksum") } == ledgerBefore)
        #expect(try connection.query("SELECT count(*) AS n FROM widgets").first?.int("n") == 0)
        #expect(try connection.query("SELECT count(*) AS n FROM bellows.events").first?.int("n") == eventsBefore)
    }

    @Test func rehearseRunsEachMigrationsTestsAfterItAndAFailureIsAViolation() throws {
        let db = try TestDatabase.create("migtestrehearse")
        defer { db.drop() }
        let files = try MigrationTestProject()
        defer { files.remove() }
        try files.write("migrations/001_widgets.sql", Self.widgets)
        try files.write("migrations/002_widget_price.sql", Self.price)
        // 001's test sees the table without price: it runs after 001, before 002.
        try files.write("migrations/tests/001_no_price_yet.sql", """
            DO $$
            BEGIN
                IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'widgets'::regclass AND attname = 'price') THEN
                    RAISE EXCEPTION 'price exists after 001';
                END IF;
            END
            $$;
            """)
        try files.write("migrations/tests/002_b_price_defaults_to_one.sql", Self.raisingTest)
        var options = RehearsalOptions()
        options.database = db.conninfo
        options.rows = 10
        options.rollbacks = false
        let report = try Rehearsal(project: files.project, options: options).run()
        #expect(report.migrations.map(\.migration) == ["001_widgets", "002_widget_price"])
        #expect(report.migrations[0].tests.map(\.passed) == [true])
        #expect(report.violations.count == 1, "\(report.violations)")
        #expect(report.violations.first?.contains("002_b_price_defaults_to_one.sql:6:9: ERROR P0001: price defaults to 0, expected 1") == true,
                "\(report.violations)")
    }
}

/// Issue 24, rollback files rehearsed: each migration, its `rollback/` file, the migration again;
/// the catalog after the rollback must be the catalog before the migration.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct MigrationRollbackRehearsalTests {
    static let widgets = "CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);\n"
    static let colour = """
        ALTER TABLE widgets ADD COLUMN colour text;
        CREATE INDEX IF NOT EXISTS widgets_name_idx ON widgets (name);
        """

    /// 001 with an exact rollback, 002 whose rollback forgets the index, 003 without a rollback file.
    func project() throws -> MigrationTestProject {
        let files = try MigrationTestProject()
        try files.write("migrations/001_widgets.sql", Self.widgets)
        try files.write("migrations/rollback/001_widgets.sql", "DROP TABLE widgets;\n")
        try files.write("migrations/002_widget_colour.sql", Self.colour)
        try files.write("migrations/rollback/002_widget_colour.sql", "ALTER TABLE widgets DROP COLUMN colour;\n")
        try files.write("migrations/003_gadgets.sql", "CREATE TABLE gadgets (id int PRIMARY KEY);\n")
        return files
    }

    @Test func aRollbackFileThatForgetsAnIndexIsCaughtByTheRehearsalWithTheDifferenceNamed() throws {
        let db = try TestDatabase.create("rbrehearse")
        defer { db.drop() }
        let files = try project()
        defer { files.remove() }
        var options = RehearsalOptions()
        options.database = db.conninfo
        options.rows = 10
        let report = try Rehearsal(project: files.project, options: options).run()
        #expect(report.migrations.map(\.migration) == ["001_widgets", "002_widget_colour", "003_gadgets"])
        #expect(report.migrations[0].rollback?.outcome == .exact, "\(String(describing: report.migrations[0].rollback))")
        let forgetful = try #require(report.migrations[1].rollback)
        #expect(forgetful.outcome == .differs)
        #expect(forgetful.differences.count == 1, "\(forgetful.differences)")
        #expect(forgetful.differences.first?.hasPrefix("index widgets_name_idx exists after rollback (it did not before the migration): ") == true,
                "\(forgetful.differences)")
        #expect(report.violations.count == 1, "\(report.violations)")
        #expect(report.violations.first?.contains("rollback of 002_widget_colour (migrations/rollback/002_widget_colour.sql): index widgets_name_idx exists after rollback") == true
                || report.violations.first?.contains("index widgets_name_idx exists after rollback") == true, "\(report.violations)")
        #expect(report.migrations[2].rollback?.outcome == .missing)
        #expect(report.warnings.count == 1 && report.warnings[0].contains("003_gadgets: no rollback file"), "\(report.warnings)")
        // Applied again after each rollback: the ledger and the schema are complete.
        let connection = try db.connect()
        defer { connection.close() }
        #expect(try connection.query("SELECT name FROM bellows.migrations ORDER BY name").map { try $0.string("name") }
                == ["001_widgets", "002_widget_colour", "003_gadgets"])
        #expect(try connection.query("SELECT count(*) AS n FROM pg_attribute WHERE attrelid = 'widgets'::regclass AND attname = 'colour'").first?.int("n") == 1)
    }

    @Test func migrateTestRehearsesRollbacksOnTheCopyAndAFailingReapplyStopsTheRun() throws {
        let db = try TestDatabase.create("rbmigtest")
        defer { db.drop() }
        let files = try project()
        defer { files.remove() }
        // Without IF NOT EXISTS, 002 cannot be applied again after a rollback that left the index.
        try files.write("migrations/002_widget_colour.sql", Self.colour.replacingOccurrences(of: "IF NOT EXISTS ", with: ""))
        let connection = try db.connect()
        defer { connection.close() }
        let before = try DatabaseSnapshot.take(connection)
        var options = MigrationOptions(conninfo: db.conninfo, actor: "tester")
        options.retryDelayMilliseconds = 10
        let report = try MigrationRunner(project: files.project, options: options).test()
        #expect(report.migrations.map(\.migration) == ["001_widgets", "002_widget_colour"])
        #expect(report.migrations[0].rollback?.outcome == .exact)
        let failed = try #require(report.migrations[1].rollback)
        #expect(failed.outcome == .failed)
        #expect(failed.message?.contains("002_widget_colour does not apply again after its rollback") == true, "\(failed.message ?? "")")
        #expect(failed.message?.contains("42P07") == true, "\(failed.message ?? "")")
        #expect(failed.message?.contains("index widgets_name_idx exists after rollback") == true, "\(failed.message ?? "")")
        #expect(report.stopped?.contains("003") == false)
        #expect(report.stopped != nil && !report.passed)
        #expect(report.rollbackProblems.count == 1)
        // The target: untouched.
        #expect(try DatabaseSnapshot.take(connection) == before)
        #expect(try connection.query("SELECT to_regclass('bellows.migrations') IS NULL AS none").first?.bool("none") == true)
    }
}

/// hostile-h 14 and 17: what the rehearsal of a rollback compares, and a copied schema whose
/// policies name roles.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct MigrationRehearsalTableStateTests {
    /// A rollback that only drops the policy leaves FORCE ROW LEVEL SECURITY (the table's owner
    /// then sees no rows and writes none), REPLICA IDENTITY FULL and a storage parameter; one
    /// that forgets to undo an ALTER POLICY, or a table added to a publication: each was
    /// rehearsed "exact" before.
    @Test func aRollbackLeavingRowSecurityReplicaIdentityPoliciesOrPublicationsIsNotExact() throws {
        let db = try TestDatabase.create("rbrowsecurity")
        defer { db.drop() }
        let files = try MigrationTestProject()
        defer { files.remove() }
        try files.write("migrations/001_docs.sql", "CREATE TABLE docs (id int PRIMARY KEY, tenant int NOT NULL, body text);\nCREATE PUBLICATION docs_pub;\n")
        try files.write("migrations/rollback/001_docs.sql", "DROP PUBLICATION docs_pub;\nDROP TABLE docs;\n")
        try files.write("migrations/002_tenancy.sql", """
            ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
            ALTER TABLE docs FORCE ROW LEVEL SECURITY;
            CREATE POLICY docs_tenant ON docs USING (tenant = current_setting('app.tenant', true)::int);
            ALTER TABLE docs REPLICA IDENTITY FULL;
            ALTER TABLE docs SET (fillfactor = 70);
            """)
        try files.write("migrations/rollback/002_tenancy.sql", "DROP POLICY docs_tenant ON docs;\n")
        try files.write("migrations/003_policy.sql", "ALTER POLICY docs_tenant ON docs USING (tenant > 0);\n")
        try files.write("migrations/rollback/003_policy.sql", "SELECT 1;\n")
        try files.write("migrations/004_publish.sql", "ALTER PUBLICATION docs_pub SET TABLE docs;\n")
        try files.write("migrations/rollback/004_publish.sql", "SELECT 1;\n")
        var options = RehearsalOptions()
        options.database = db.conninfo
        options.rows = 10
        let report = try Rehearsal(project: files.project, options: options).run()
        #expect(report.migrations.map(\.migration) == ["001_docs", "002_tenancy", "003_policy", "004_publish"], "\(report.violations)")
        #expect(report.migrations[0].rollback?.outcome == .exact, "\(String(describing: report.migrations[0].rollback))")
        let tenancy = try #require(report.migrations[1].rollback)
        #expect(tenancy.outcome == .differs, "\(tenancy)")
        let differences = tenancy.differences.joined(separator: "\n")
        #expect(tenancy.differences.contains { $0.hasPrefix("row security on docs exists after rollback") && $0.hasSuffix("row security enabled, forced") }, "\(differences)")
        #expect(tenancy.differences.contains { $0.hasPrefix("replica identity on docs exists after rollback") && $0.hasSuffix("replica identity full") }, "\(differences)")
        #expect(tenancy.differences.contains { $0.hasPrefix("table docs differs after rollback") && $0.hasSuffix("with (fillfactor=70)") }, "\(differences)")
        #expect(tenancy.differences.count == 3, "\(differences)")
        let policy = try #require(report.migrations[2].rollback)
        #expect(policy.outcome == .differs && policy.differences.count == 1, "\(policy)")
        #expect(policy.differences.first?.hasPrefix("policy docs_tenant on docs differs after rollback: before the migration policy docs_tenant AS PERMISSIVE FOR ALL TO PUBLIC USING ") == true,
                "\(policy.differences)")
        let publish = try #require(report.migrations[3].rollback)
        #expect(publish.outcome == .differs && publish.differences.count == 1, "\(publish)")
        #expect(publish.differences.first?.hasPrefix("publication docs_pub differs after rollback: before the migration for no table publish insert, update, delete, truncate — after rollback for public.docs") == true,
                "\(publish.differences)")
        #expect(report.violations.count == 5, "\(report.violations)")
    }

    /// `migrate --test` (and `rehearse --from`, the same copy) on a database with a policy `TO`
    /// a role the scratch cluster lacks: the copy failed with a bare 42704. The role is created
    /// NOLOGIN there, and the copy goes on.
    @Test func migrateTestCopiesASchemaWhosePolicyNamesARole() throws {
        let db = try TestDatabase.create("policyrole")
        defer { db.drop() }
        let role = "bellows_hh17_app_rw"
        let connection = try db.connect()
        defer { connection.close() }
        try connection.execute("DO $$ BEGIN CREATE ROLE \(role) NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        try connection.executeScript("""
            CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id int NOT NULL, name text NOT NULL);
            ALTER TABLE customers ENABLE ROW LEVEL SECURITY;
            CREATE POLICY tenant_sel ON customers FOR ALL TO \(role) USING (tenant_id = current_setting('app.tenant')::int);
            """)
        let files = try MigrationTestProject()
        defer { files.remove() }
        try files.write("migrations/001_noop.sql", "SELECT 1;\n")
        var options = MigrationOptions(conninfo: db.conninfo, actor: "tester")
        options.retryDelayMilliseconds = 10
        let messages = Shared<[String]>([])
        let report = try MigrationRunner(project: files.project, options: options, reporter: { event in
            if case .info(let text) = event { messages.update { $0.append(text) } }
        }).test()
        #expect(report.applied == 1 && report.passed, "\(report.testFailures) \(report.rollbackProblems)")
        #expect(messages.current.contains { $0.contains("created NOLOGIN in the scratch cluster: \(role)") }, "\(messages.current)")
        try connection.execute("DROP TABLE customers")
        try connection.execute("DROP ROLE \(role)")
    }
}

/// Which non-transactional migrations are not rehearsed, and how differences are named. Pure.
struct MigrationRollbackDecisionTests {
    func pending(_ sql: String) -> PendingMigration {
        let analysis = MigrationFile.analyze(sql)
        return PendingMigration(name: "009_x", number: 9, path: "migrations/009_x.sql", checksum: "", description: nil, dependencies: [],
                                transactional: analysis.transactionMode.isTransactional, nonTransactionalReason: nil,
                                ownTransactionControl: false, statements: MigrationRunner.statements(of: analysis),
                                completedStatements: [], outOfOrder: false, startedStatement: nil)
    }

    @Test func aNonTransactionalFileActingOutsideTheDatabaseIsNotRehearsed() {
        #expect(MigrationRehearsal.unsafeToRepeat(pending("CREATE INDEX CONCURRENTLY i ON t (a);\n")) == nil)
        #expect(MigrationRehearsal.unsafeToRepeat(pending("CREATE TABLE t (a int);\n")) == nil)
        let system = MigrationRehearsal.unsafeToRepeat(pending("SELECT 1;\nALTER SYSTEM SET work_mem = '8MB';\n"))
        #expect(system == "`ALTER SYSTEM` at line 2 acts outside the database", "\(system ?? "nil")")
        #expect(MigrationRehearsal.unsafeToRepeat(pending("CREATE DATABASE other;\n")) != nil)
    }

    @Test func differencesAreNamedAndATablesPartsAreNotListedWithIt() {
        let before = DatabaseSnapshot(objects: [
            "table public.widgets": .init(definition: "table"),
            "column public.widgets.name": .init(definition: "column 2 name text", parent: "table public.widgets"),
        ])
        var after = before
        after.objects["index widgets_name_idx"] = .init(definition: "index CREATE INDEX widgets_name_idx ON public.widgets USING btree (name)",
                                                       parent: "table public.widgets")
        after.objects["table public.gadgets"] = .init(definition: "table")
        after.objects["column public.gadgets.id"] = .init(definition: "column 1 id integer", parent: "table public.gadgets")
        after.objects["column public.widgets.name"] = .init(definition: "column 2 name varchar(10)", parent: "table public.widgets")
        #expect(before.difference(to: after) == [
            "column public.widgets.name differs after rollback: before the migration column 2 name text — after rollback column 2 name varchar(10)",
            "index widgets_name_idx exists after rollback (it did not before the migration): index CREATE INDEX widgets_name_idx ON public.widgets USING btree (name)",
            "table public.gadgets exists after rollback (it did not before the migration): table",
        ])
        #expect(after.difference(to: before).contains("table public.gadgets is missing after rollback (before the migration: table)"))
        // A column dropped and added again keeps its place among the columns, whatever its attnum.
        #expect(DatabaseSnapshot.logicalColumnPositions(["column 1 id integer", "column 4 colour text", "column 2 name text", "index CREATE INDEX i"])
                == ["column 1 id integer", "column 3 colour text", "column 2 name text", "index CREATE INDEX i"])
    }
}
