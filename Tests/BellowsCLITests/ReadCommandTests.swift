import BellowsTestSupport
import Foundation
import Testing

/// Read commands never write: `status`, `history` and `migrations status` on a database where no
/// Bellows command has run leave it without a `bellows` schema.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct ReadCommandTests {
    static func hasBellowsSchema(_ db: ScratchDatabase) throws -> Bool {
        let connection = try db.connect()
        defer { connection.close() }
        return try connection.query("SELECT to_regnamespace('bellows') IS NOT NULL AS present").first?.bool("present") == true
    }

    @Test func readCommandsOnAFreshDatabaseCreateNothing() throws {
        let db = try TestDatabase.create("readonly")
        defer { db.drop() }
        let root = try CheckCommandTests.exampleProject()
        defer { CheckCommandTests.remove(root) }
        let common = ["--project", root, "-d", db.conninfo]

        let status = try CheckCommandTests.bellows(["status"] + common)
        #expect(status.status == 0, "\(status.stdout)\(status.stderr)")
        #expect(status.stdout.contains("001_rename_users_email") && status.stdout.contains("planned"), "\(status.stdout)")
        #expect(status.stdout.contains("no plans yet"), "\(status.stdout)")
        let json = try CheckCommandTests.bellows(["status", "--format", "json"] + common)
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdout.contains("\"phase\":\"planned\""), "\(json.stdout)")

        let history = try CheckCommandTests.bellows(["history"] + common)
        #expect(history.status == 0 && history.stdout.contains("no plans yet"), "\(history.stdout)\(history.stderr)")
        let one = try CheckCommandTests.bellows(["history", "001", "--format", "json"] + common)
        #expect(one.status == 0 && one.stdout.contains("\"events\":[]"), "\(one.stdout)\(one.stderr)")

        let migrations = try CheckCommandTests.bellows(["migrations", "status"] + common)
        #expect(migrations.status == 0, "\(migrations.stdout)\(migrations.stderr)")
        #expect(migrations.stdout.contains("pending"), "\(migrations.stdout)")

        #expect(try !Self.hasBellowsSchema(db), "a read command created the bellows schema")

        // Once a command has written (migrate), status reads the state as before.
        #expect(try CheckCommandTests.bellows(["migrate"] + common).status == 0)
        #expect(try Self.hasBellowsSchema(db))
        let after = try CheckCommandTests.bellows(["status"] + common)
        #expect(after.status == 0 && after.stdout.contains("planned"), "\(after.stdout)\(after.stderr)")
    }

    /// Without BELLOWS_ACTOR, USER and LOGNAME (cron, `env -i`), the audit trail names the
    /// process's account, never `unknown@host`.
    @Test func theActorIsNeverUnknown() throws {
        let db = try TestDatabase.create("actor")
        defer { db.drop() }
        let root = try CheckCommandTests.exampleProject()
        defer { CheckCommandTests.remove(root) }
        var environment = ProcessInfo.processInfo.environment
        for key in ["BELLOWS_ACTOR", "USER", "LOGNAME"] { environment[key] = nil }
        let migrate = try CheckCommandTests.bellows(["migrate", "--project", root, "-d", db.conninfo], environment: environment)
        #expect(migrate.status == 0, "\(migrate.stdout)\(migrate.stderr)")
        let expand = try CheckCommandTests.bellows(["expand", "001", "--project", root, "-d", db.conninfo], environment: environment)
        #expect(expand.status == 0, "\(expand.stdout)\(expand.stderr)")
        let connection = try db.connect()
        defer { connection.close() }
        let actors = try connection.query("SELECT actor FROM bellows.events UNION ALL SELECT applied_by FROM bellows.migrations").map { try $0.string("actor") }
        #expect(!actors.isEmpty)
        for actor in actors {
            #expect(!actor.hasPrefix("unknown") && !actor.hasPrefix("@") && !actor.isEmpty, "\(actors)")
        }
    }
}
