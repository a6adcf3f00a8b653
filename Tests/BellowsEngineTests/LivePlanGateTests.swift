import BellowsEngine
import BellowsPlan
import BellowsSQL
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// The phases' `plan` gate judges the plan against the database the phase runs on, not the
/// schema the files in `migrations/` and `plans/` model (hostile-d 31, 05, 24).
@Suite(needsDatabase)
struct LivePlanGateTests {
    /// Writes `migrations/<name>.sql` and applies it with `bellows migrate`'s runner.
    static func migrate(_ f: EngineFixture, _ name: String, _ sql: String) throws {
        try FileManager.default.createDirectory(atPath: f.root + "/migrations", withIntermediateDirectories: true)
        try "-- Migration: \(name)\n\(sql)\n".write(toFile: f.root + "/migrations/\(name).sql", atomically: true, encoding: .utf8)
        _ = try MigrationRunner(project: f.project, options: MigrationOptions(conninfo: f.db.conninfo, actor: "gate-tests")).apply()
    }

    static func errors(_ findings: [Finding]) -> [String] { findings.filter { $0.severity == .error }.map(\.rule) }

    /// A column added in a DO block and a table made with `CREATE TABLE … (LIKE …)`: the offline
    /// model cannot follow them (check without a database errs), but they exist, and expand runs.
    @Test func expandRunsOnColumnsTheMigrationFilesHideFromTheOfflineModel() throws {
        let f = try EngineFixture("gate-live-do")
        defer { f.close() }
        try Self.migrate(f, "001_schema", """
            CREATE TABLE users (id bigint PRIMARY KEY, email text);
            INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 10) g;
            DO $$
            BEGIN
              IF NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nick') THEN
                ALTER TABLE users ADD COLUMN nick text;
              END IF;
            END $$;
            CREATE TABLE users_archive (LIKE users INCLUDING ALL);
            """)
        try f.writePlan("001_rename_nick", "table: users\nchanges:\n  - alter: nick\n    rename_to: nickname\n")
        try f.writePlan("002_archive_email", "table: users_archive\nchanges:\n  - alter: email\n    rename_to: email_address\n")
        #expect(Self.errors(ProjectCheck.check(project: f.project, includeLint: false)).contains("plan-unknown-column"))
        try f.run(.expand, "001_rename_nick")
        try f.run(.expand, "002_archive_email")
        #expect(try f.state("001_rename_nick")?.phase == .expanded)
        #expect(try f.state("002_archive_email")?.phase == .expanded)
    }

    /// The gate still refuses, located, what the database says is wrong.
    @Test func expandStillRefusesAColumnTheDatabaseLacks() throws {
        let f = try EngineFixture("gate-live-missing")
        defer { f.close() }
        try Self.migrate(f, "001_schema", "CREATE TABLE users (id bigint PRIMARY KEY, email text);")
        try f.writePlan("001_rename_nick", "table: users\nchanges:\n  - alter: nick\n    rename_to: nickname\n")
        let refusal = expectRefusal { try f.run(.expand, "001_rename_nick") }
        #expect(refusal?.gates == ["plan"], "\(refusal?.text ?? "")")
        #expect(refusal?.failures.first?.message.hasSuffix("001_rename_nick.yaml:3:12: column \"nick\" does not exist in public.users [plan-unknown-column]") == true,
                "\(refusal?.text ?? "")")
    }

    /// A contracted plan's file removed: a later plan on the column it created still expands.
    @Test func aContractedPlansRemovedFileDoesNotStrandLaterPlans() throws {
        let f = try EngineFixture("gate-live-removed")
        defer { f.close() }
        try Self.migrate(f, "001_schema", """
            CREATE TABLE reviews (id bigint PRIMARY KEY, score text DEFAULT '3', body text);
            INSERT INTO reviews SELECT g, (g % 5)::text, 'b' FROM generate_series(1, 50) g;
            """)
        try f.writePlan("001_rename_score", "table: reviews\nchanges:\n  - alter: score\n    rename_to: rating\n")
        try f.forward("001_rename_score", through: .contract)
        try FileManager.default.removeItem(atPath: f.planPath("001_rename_score"))
        try f.writePlan("002_retype_rating", """
            table: reviews
            changes:
              - alter: rating
                type: integer
                up: "rating::integer"
                down: "rating::text"
            """)
        #expect(Self.errors(ProjectCheck.check(project: f.project, includeLint: false)).contains("plan-unknown-column"))
        try f.forward("002_retype_rating", through: .contract)
        #expect(try f.int("SELECT count(*) FROM reviews WHERE rating BETWEEN 0 AND 4") == 50)
    }

    /// A chain whose offline model loses a UNIQUE constraint over a renamed column: the database
    /// has it under its renamed name, and the plan dropping it runs.
    @Test func aConstraintTheOfflineChainLosesCanBeDropped() throws {
        let f = try EngineFixture("gate-live-chain")
        defer { f.close() }
        try Self.migrate(f, "001_schema", """
            CREATE TABLE t (id bigint PRIMARY KEY, a int, b int, c int);
            INSERT INTO t SELECT g, g, g, g FROM generate_series(1, 100) g;
            """)
        try f.writePlan("001_unique_ab", "table: t\nchanges:\n  - add_unique: [a, b]\n  - add_check: \"c >= 0\"\n")
        try f.writePlan("002_rename_a_c", """
            table: t
            depends_on:
              plans: ["001"]
            changes:
              - alter: a
                rename_to: a2
              - alter: c
                rename_to: c2
            """)
        try f.forward("001_unique_ab", through: .contract)
        try f.forward("002_rename_a_c", through: .contract)
        try f.writePlan("003_drop", """
            table: t
            depends_on:
              plans: ["002"]
            changes:
              - drop_constraint: t_a2_b_key
              - drop_constraint: t_c2_check
            """)
        try f.forward("003_drop", through: .contract)
        #expect(try f.rows("SELECT conname FROM pg_constraint WHERE conrelid = 't'::regclass AND contype <> 'n' ORDER BY 1") == [["t_pkey"]])
    }
}
