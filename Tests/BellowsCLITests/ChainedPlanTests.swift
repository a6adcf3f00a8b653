import BellowsTestSupport
import Foundation
import Testing

/// Issue 17, chained plans: plans that change a column an earlier plan adds or renames are
/// checked, rendered and rehearsed against the table as the earlier plans leave it.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct ChainedPlanTests {
    /// A project of its own: `migrations/001_reviews.sql` and `plans` (file name → text).
    static func project(_ name: String, migration: String, plans: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-\(name)-\(UUID().uuidString)").path
        for directory in ["plans", "migrations"] {
            try FileManager.default.createDirectory(atPath: root + "/" + directory, withIntermediateDirectories: true)
        }
        try migration.write(toFile: root + "/migrations/001_reviews.sql", atomically: true, encoding: .utf8)
        for (file, text) in plans { try text.write(toFile: root + "/plans/" + file, atomically: true, encoding: .utf8) }
        return root
    }

    static func bellows(_ arguments: [String], root: String, expect status: Int32 = 0,
                        sourceLocation: Testing.SourceLocation = #_sourceLocation) throws -> CheckCommandTests.Run {
        let run = try CheckCommandTests.bellows(arguments + ["--project", root])
        #expect(run.status == status, "bellows \(arguments.joined(separator: " ")):\n\(run.stdout)\n\(run.stderr)", sourceLocation: sourceLocation)
        return run
    }

    /// Rename, then retype, then NOT NULL, each plan on the column the one before it leaves:
    /// before, plans 002 and 003 failed check with plan-unknown-column ("rating" does not exist).
    @Test func renameThenRetypeThenNotNullPassCheckRenderAndRehearse() throws {
        let root = try Self.project("chain", migration: """
            SET lock_timeout = '2s';
            CREATE TABLE reviews (id bigint PRIMARY KEY, score text, body text);
            """, plans: [
            "001_rename_score.yaml": """
                table: reviews
                changes:
                  - alter: score
                    rename_to: rating
                """,
            "002_retype_rating.yaml": """
                table: reviews
                depends_on:
                  plans: [001_rename_score]
                changes:
                  - alter: rating
                    type: varchar(200)
                    up: "rating::varchar(200)"
                    down: "rating::text"
                """,
            "003_rating_not_null.yaml": """
                table: reviews
                depends_on:
                  plans: [002_retype_rating]
                changes:
                  - alter: rating
                    up: "coalesce(rating, '')"
                    not_null: true
                """,
        ])
        defer { try? FileManager.default.removeItem(atPath: root) }
        let check = try Self.bellows(["check"], root: root)
        #expect(!(check.stdout + check.stderr).contains("plan-unknown-column"), "\(check.stdout)")

        let render = try Self.bellows(["render", "003"], root: root)
        #expect(render.stdout.contains("-- reviews as 001_rename_score, 002_retype_rating leave it once contracted"), "\(render.stdout)")
        #expect(render.stdout.contains("CHECK (\"rating\" IS NOT NULL) NOT VALID"), "\(render.stdout)")
        let retype = try Self.bellows(["render", "002", "--phase", "expand"], root: root)
        #expect(retype.stdout.contains("ADD COLUMN IF NOT EXISTS \"_bellows_rating\" varchar(200)"), "\(retype.stdout)")

        let rehearsal = try Self.bellows(["rehearse", "--rows", "300"], root: root)
        #expect(rehearsal.stdout.contains("rehearsal passed"), "\(rehearsal.stdout)\n\(rehearsal.stderr)")
        for plan in ["001_rename_score", "002_retype_rating", "003_rating_not_null"] {
            // Forward under traffic, then rolled back from each phase on a fresh copy.
            for phase in ["expand", "backfill", "verify", "contract", "rollback after expand", "rollback after backfill", "rollback after verify"] {
                #expect(rehearsal.stdout.split(separator: "\n").contains { $0.hasPrefix(plan + " ") && $0.contains(" \(phase) ") && $0.hasSuffix(" ok") },
                        "\(plan) \(phase): \(rehearsal.stdout)")
            }
        }
    }
}
