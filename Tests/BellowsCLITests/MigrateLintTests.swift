import BellowsTestSupport
import Foundation
import Testing

/// `bellows migrate` refuses a pending file with error-severity lint findings (here a CREATE
/// INDEX without CONCURRENTLY on a table an earlier migration created: it blocks writes while it
/// builds), shows them in `--dry-run`, and applies it with `--allow-lint-errors` or a
/// suppression comment.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct MigrateLintTests {
    static let table = "CREATE TABLE t (id bigint PRIMARY KEY, v text);\nINSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 10) g;\n"
    static let index = "-- an index the application needs\nCREATE INDEX t_v ON t (v);\n"

    static func project(_ files: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-migrate-lint-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/migrations", withIntermediateDirectories: true)
        for (name, text) in files { try text.write(toFile: root + "/migrations/" + name, atomically: true, encoding: .utf8) }
        return root
    }

    static func applied(_ db: ScratchDatabase) throws -> [String] {
        let connection = try db.connect()
        defer { connection.close() }
        guard try connection.query("SELECT to_regclass('bellows.migrations') IS NOT NULL AS ok").first?.bool("ok") == true else { return [] }
        return try connection.query("SELECT name FROM bellows.migrations ORDER BY name").map { try $0.string("name") }
    }

    @Test func aPendingFileWithALintErrorIsRefused() throws {
        let db = try TestDatabase.create("migratelint")
        defer { db.drop() }
        let root = try Self.project(["001_t.sql": Self.table, "002_t_v.sql": Self.index])
        defer { CheckCommandTests.remove(root) }
        let common = ["--project", root, "-d", db.conninfo]

        let dryRun = try CheckCommandTests.bellows(["migrate", "--dry-run"] + common)
        #expect(dryRun.status == 1, "\(dryRun.stdout)\(dryRun.stderr)")
        let shown = dryRun.stdout + dryRun.stderr
        #expect(shown.contains("002_t_v.sql:2:") && shown.contains("[non-concurrent-index]"), "\(shown)")
        #expect(shown.contains("--allow-lint-errors") && shown.contains("bellows:ignore non-concurrent-index"), "\(shown)")

        // Refused before anything runs: not even 001, which is clean.
        let refused = try CheckCommandTests.bellows(["migrate"] + common)
        #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("[non-concurrent-index]"), "\(refused.stderr)")
        #expect(try Self.applied(db).isEmpty)

        // --allow-lint-errors: applied, and the dry run says what it lets through.
        let allowedDryRun = try CheckCommandTests.bellows(["migrate", "--dry-run", "--allow-lint-errors"] + common)
        #expect(allowedDryRun.status == 0, "\(allowedDryRun.stdout)\(allowedDryRun.stderr)")
        #expect(allowedDryRun.stdout.contains("[non-concurrent-index]"), "\(allowedDryRun.stdout)")
        let allowed = try CheckCommandTests.bellows(["migrate", "--allow-lint-errors"] + common)
        #expect(allowed.status == 0, "\(allowed.stdout)\(allowed.stderr)")
        #expect(try Self.applied(db) == ["001_t", "002_t_v"])
    }

    @Test func aSuppressedFindingDoesNotStopIt() throws {
        let db = try TestDatabase.create("migratelint2")
        defer { db.drop() }
        let suppressed = "-- bellows:ignore non-concurrent-index: the table is new and empty in production\nCREATE INDEX t_v ON t (v);\n"
        let root = try Self.project(["001_t.sql": Self.table, "002_t_v.sql": suppressed])
        defer { CheckCommandTests.remove(root) }
        let run = try CheckCommandTests.bellows(["migrate", "--project", root, "-d", db.conninfo])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(try Self.applied(db) == ["001_t", "002_t_v"])
    }

    /// A migration the lint already reads as safe is not held up: SET NOT NULL right after the
    /// VALIDATE of a CHECK (col IS NOT NULL) an earlier migration added NOT VALID.
    @Test func theSafeNotNullPatternIsApplied() throws {
        let db = try TestDatabase.create("migratelint3")
        defer { db.drop() }
        let root = try Self.project([
            "001_t.sql": Self.table,
            "002_check.sql": "ALTER TABLE t ADD CONSTRAINT t_v_nn CHECK (v IS NOT NULL) NOT VALID;\n",
            "003_not_null.sql": "ALTER TABLE t VALIDATE CONSTRAINT t_v_nn;\nALTER TABLE t ALTER COLUMN v SET NOT NULL;\n",
        ])
        defer { CheckCommandTests.remove(root) }
        let run = try CheckCommandTests.bellows(["migrate", "--project", root, "-d", db.conninfo])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(try Self.applied(db) == ["001_t", "002_check", "003_not_null"])
        let lint = try CheckCommandTests.bellows(["lint", "--project", root])
        #expect(lint.status == 0, "\(lint.stdout)\(lint.stderr)")
    }
}
