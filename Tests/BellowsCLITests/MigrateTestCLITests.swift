import BellowsTestSupport
import Foundation
import Testing

/// Issue 24: `bellows migrate --test` — the pending migrations and their tests on a scratch copy.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct MigrateTestCLITests {
    @Test func aFailingTestExits3WithItsLocationInTextAndJSON() throws {
        let db = try TestDatabase.create("migtestcli")
        defer { db.drop() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-migtest-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["plans", "migrations/tests"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        func write(_ relative: String, _ text: String) throws {
            try text.write(toFile: root + "/" + relative, atomically: true, encoding: .utf8)
        }
        try write("migrations/001_widgets.sql", "CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);\n")
        let common = ["--project", root, "-d", db.conninfo]
        #expect(try CheckCommandTests.bellows(["migrate"] + common).status == 0)
        try write("migrations/002_widget_price.sql", "ALTER TABLE widgets ADD COLUMN price numeric NOT NULL DEFAULT 0;\n")
        try write("migrations/tests/002_price_defaults_to_one.sql", """
            INSERT INTO widgets (id, name) VALUES (1, 'a');
            DO $$
            BEGIN
                IF (SELECT price FROM widgets WHERE id = 1) <> 1 THEN
                    RAISE EXCEPTION 'price defaults to 0, expected 1';
                END IF;
            END
            $$;
            """)
        let text = try CheckCommandTests.bellows(["migrate", "--test"] + common)
        #expect(text.status == 3, "\(text.stdout)\(text.stderr)")
        #expect(text.stderr.contains("migrations/tests/002_price_defaults_to_one.sql:5:9: ERROR P0001: price defaults to 0, expected 1"), "\(text.stderr)")
        #expect(text.stdout.contains("the target was not changed"), "\(text.stdout)")

        let json = try CheckCommandTests.bellows(["migrate", "--test", "--format", "json"] + common)
        try JSONContractTests.expectGolden("migrate-test-failed", json, status: 3,
                                           replacing: [(root, "<project>"), (db.conninfo, "<database>"), (db.name, "<database>")],
                                           volatile: ["duration_ms", "target", "scratch_server"])
        // Nothing of 002 on the target.
        let status = try CheckCommandTests.bellows(["migrations", "status"] + common)
        #expect(status.stdout.contains("002_widget_price") && status.stdout.contains("pending"), "\(status.stdout)")
    }

    /// A rollback file that forgets an index: `migrate --test` exits 1 naming the index.
    @Test func aRollbackThatForgetsAnIndexExits1NamingIt() throws {
        let db = try TestDatabase.create("migtestrollback")
        defer { db.drop() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-migtest-cli-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/migrations/rollback", withIntermediateDirectories: true)
        func write(_ relative: String, _ text: String) throws {
            try text.write(toFile: root + "/" + relative, atomically: true, encoding: .utf8)
        }
        try write("migrations/001_widgets.sql", "CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);\n")
        try write("migrations/rollback/001_widgets.sql", "DROP TABLE widgets;\n")
        try write("migrations/002_widget_colour.sql", "ALTER TABLE widgets ADD COLUMN colour text;\nCREATE INDEX IF NOT EXISTS widgets_name_idx ON widgets (name);\n")
        try write("migrations/rollback/002_widget_colour.sql", "ALTER TABLE widgets DROP COLUMN colour;\n")
        let run = try CheckCommandTests.bellows(["migrate", "--test", "--allow-lint-errors", "--project", root, "-d", db.conninfo])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("rollback migrations/rollback/001_widgets.sql  exact") || run.stdout.contains("001_widgets.sql  exact"), "\(run.stdout)")
        #expect(run.stdout.contains("- index widgets_name_idx exists after rollback (it did not before the migration)"), "\(run.stdout)")
        #expect(run.stdout.contains("1 problem(s); the target was not changed"), "\(run.stdout)")
    }
}
