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

/// `lint -`, `lint --explain RULE`, `--format gitlab|sarif` (issue 20's lint for CI systems).
@Suite struct LintForCITests {
    @Test func lintReadsStandardInputExplainsRulesAndWritesCIReports() throws {
        let binary = try #require(CheckCommandTests.binary, "no bellows executable next to the tests (set BELLOWS_BINARY)")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-lintci-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/migrations", withIntermediateDirectories: true)
        defer { CheckCommandTests.remove(root) }
        let stdin = try CheckCommandTests.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "printf 'CREATE INDEX i ON t (a);\\n' | '\(binary.path)' lint -"], in: root)
        #expect(stdin.status == 1, "\(stdin.stdout)\(stdin.stderr)")
        #expect(stdin.stdout.contains("<stdin>:1:8: error:") && stdin.stdout.contains("[non-concurrent-index]"), "\(stdin.stdout)")
        #expect(!stdin.stdout.contains("migration-file-name"), "\(stdin.stdout)")

        let explain = try CheckCommandTests.bellows(["lint", "--explain", "non-concurrent-index"], in: root)
        #expect(explain.status == 0 && explain.stdout.contains("fix:") && explain.stdout.contains("CONCURRENTLY"), "\(explain.stdout)")
        let typo = try CheckCommandTests.bellows(["lint", "--explain", "non-concurent-index"], in: root)
        #expect(typo.status == 2 && typo.stderr.contains("did you mean \"non-concurrent-index\""), "\(typo.stdout)\(typo.stderr)")

        try "CREATE TABLE t (a int);\n".write(toFile: root + "/migrations/001_t.sql", atomically: true, encoding: .utf8)
        try "CREATE INDEX i ON t (a);\n".write(toFile: root + "/migrations/002_i.sql", atomically: true, encoding: .utf8)
        let gitlab = try CheckCommandTests.bellows(["lint", "--format", "gitlab"], in: root)
        #expect(gitlab.status == 1)
        let issues = try #require(try JSONSerialization.jsonObject(with: Data(gitlab.stdout.utf8)) as? [[String: Any]], "\(gitlab.stdout)")
        #expect(issues.contains { $0["check_name"] as? String == "non-concurrent-index" && $0["severity"] as? String == "major" })
        let sarif = try CheckCommandTests.bellows(["lint", "--format", "sarif"], in: root)
        #expect(sarif.status == 1)
        let log = try #require(try JSONSerialization.jsonObject(with: Data(sarif.stdout.utf8)) as? [String: Any], "\(sarif.stdout)")
        #expect(log["version"] as? String == "2.1.0")
    }
}

