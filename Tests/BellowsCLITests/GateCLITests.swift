import BellowsTestSupport
import Foundation
import Testing

/// `--confirm` and `advance --through` as a release manager types them.
@Suite(.enabled(if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose"))
struct GateCLITests {
    static let plan = """
        table: s
        changes:
          - alter: v
            rename_to: v2
        gates:
          - name: app-writes-v2
            before: contract
            description: every app instance writes s.v2
          - name: dba-ok
            before: expand
        """

    /// A scratch database with table `s` and a project holding plan 001 with two gates.
    static func setUp(_ label: String) throws -> (db: ScratchDatabase, root: String, common: [String]) {
        let db = try TestDatabase.create(label)
        let connection = try db.connect()
        try connection.executeScript("CREATE TABLE s (id bigint PRIMARY KEY, v text); INSERT INTO s SELECT g, 'v' || g FROM generate_series(1, 10) g;")
        connection.close()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-gates-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        try plan.write(toFile: root + "/plans/001_s.yaml", atomically: true, encoding: .utf8)
        return (db, root, ["--project", root, "-d", db.conninfo])
    }

    static func phase(_ db: ScratchDatabase) throws -> String? {
        let connection = try db.connect()
        defer { connection.close() }
        guard try connection.query("SELECT to_regclass('bellows.plans') IS NOT NULL AS ok").first?.bool("ok") == true else { return nil }
        return try connection.query("SELECT phase FROM bellows.plans WHERE id = '001_s'").first?.string("phase")
    }

    @Test func anUnknownConfirmNameIsAnErrorListingThePlansGates() throws {
        let (db, root, common) = try Self.setUp("gatecli")
        defer { db.drop(); CheckCommandTests.remove(root) }
        // A typo: before, expand ran (dba-ok is confirmed) and the typo was ignored.
        let typo = try CheckCommandTests.bellows(["expand", "001", "--confirm", "dba-ok", "--confirm", "app-writes-v3"] + common)
        #expect(typo.status == 2, "\(typo.stdout)\(typo.stderr)")
        #expect(typo.stderr.contains("no gate \"app-writes-v3\" (did you mean \"app-writes-v2\"?)"), "\(typo.stderr)")
        #expect(typo.stderr.contains("app-writes-v2 (before contract), dba-ok (before expand)"), "\(typo.stderr)")
        #expect(try Self.phase(db) != "expanded", "nothing ran")
        let columns = try db.connect().query("SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 's'::regclass AND attnum > 0 AND NOT attisdropped")
        #expect(try columns.first?.int("n") == 2, "the table is as before")

        // Known names, one for a later phase: fine.
        let known = try CheckCommandTests.bellows(["expand", "001", "--confirm", "dba-ok", "--confirm", "app-writes-v2"] + common)
        #expect(known.status == 0, "\(known.stdout)\(known.stderr)")
        // approve says the same.
        let approve = try CheckCommandTests.bellows(["approve", "001", "app-writes-v"] + common)
        #expect(approve.status == 2 && approve.stderr.contains("did you mean \"app-writes-v2\"?"), "\(approve.stderr)")
        // JSON: an error object.
        let json = try CheckCommandTests.bellows(["backfill", "001", "--confirm", "nope", "--format", "json"] + common)
        #expect(json.status == 2)
        #expect(json.stdout.contains("no gate \\\"nope\\\""), "\(json.stdout)")
    }

    @Test func advanceThroughTakesForwardPhasesOnly() throws {
        let (db, root, common) = try Self.setUp("gatecli2")
        defer { db.drop(); CheckCommandTests.remove(root) }
        let rollback = try CheckCommandTests.bellows(["advance", "001", "--through", "rollback"] + common)
        #expect(rollback.status == 2, "\(rollback.stdout)\(rollback.stderr)")
        #expect(rollback.stderr.contains("--through takes a forward phase"), "\(rollback.stderr)")
        #expect(try Self.phase(db) == nil, "not even registered")
        let forward = try CheckCommandTests.bellows(["advance", "001", "--through", "verify", "--confirm", "dba-ok"] + common)
        #expect(forward.status == 0, "\(forward.stdout)\(forward.stderr)")
        #expect(try Self.phase(db) == "verified")
    }

    /// `--through X` is an upper bound (hostile-d 06): re-running a deploy step on a plan already
    /// at or past X runs nothing — before, it ran the next phase, up to contract.
    @Test func advanceThroughAPhaseAlreadyPassedRunsNothing() throws {
        let (db, root, common) = try Self.setUp("gatecli3")
        defer { db.drop(); CheckCommandTests.remove(root) }
        let first = try CheckCommandTests.bellows(["advance", "001", "--through", "backfill", "--confirm", "dba-ok"] + common)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(try Self.phase(db) == "backfilled")
        // The contract gate approved ahead of time: nothing else stands between the plan and contract.
        let approve = try CheckCommandTests.bellows(["approve", "001", "app-writes-v2"] + common)
        #expect(approve.status == 0, "\(approve.stderr)")
        for through in ["expand", "backfill"] {
            let again = try CheckCommandTests.bellows(["advance", "001", "--through", through] + common)
            #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
            #expect(again.stdout.contains("001_s is backfilled, at or past \(through): nothing to do"), "\(again.stdout)")
            #expect(try Self.phase(db) == "backfilled", "--through \(through) ran nothing")
        }
        let json = try CheckCommandTests.bellows(["advance", "001", "--through", "expand", "--format", "json"] + common)
        #expect(json.status == 0, "\(json.stdout)\(json.stderr)")
        #expect(try Self.phase(db) == "backfilled")
        let verify = try CheckCommandTests.bellows(["advance", "001", "--through", "verify"] + common)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(try Self.phase(db) == "verified", "up to the phase named, and no further")
        let columns = try db.connect().query("SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 's'::regclass AND attname = 'v' AND NOT attisdropped")
        #expect(try columns.first?.int("n") == 1, "the old column is still there")
    }
}
