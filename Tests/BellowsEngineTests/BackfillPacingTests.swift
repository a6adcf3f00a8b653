@testable import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Adaptive pacing on a real server: another session in a transaction makes the backfill
/// gentle; `full` ignores it. Either way every row is copied. The server's other sessions
/// (other tests) count too, so each test asserts on its own session in its own database:
/// the engine's count of sessions there is exactly the test's.
@Suite(needsDatabase, .serialized)
struct BackfillPacingTests {
    func backfill(_ fixture: EngineFixture, pacing: BackfillPacing?) throws -> [BackfillProgress] {
        try fixture.exec("""
            CREATE TABLE paced (id bigint PRIMARY KEY, email text);
            INSERT INTO paced SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 3000) AS g;
            ANALYZE paced;
            """)
        try fixture.writePlan("001_paced", """
            table: paced
            changes:
              - alter: email
                rename_to: email_address
            """)
        try fixture.run(.expand, "001_paced")
        let engine = fixture.engine({ $0.pacing = pacing; $0.batchSize = 500 })
        let probe = try fixture.db.connect()   // stands for the backfill's session
        defer { probe.close() }
        // The test's own session waits inside a transaction: an active session to make room for.
        let other = try fixture.db.connect()
        defer { other.close() }
        try other.execute("BEGIN")
        _ = try other.query("SELECT 1")
        // The engine's query sees it, and nothing else, in this database, once it has been
        // idle in its transaction for more than a second (as the fixture's own session is idle).
        // (Only `probe`, which the count leaves out, reads meanwhile.)
        let witnessIdle = "SELECT (clock_timestamp() - state_change > interval '1 second')::int FROM pg_stat_activity WHERE pid = $1"
        #expect(try eventually(10) {
            try probe.query(witnessIdle, [Int(other.backendPID)]).first?.values.first == "1" && engine.serverActivity(probe).activeInDatabase == 1
        }, "the engine does not count the test's idle transaction as active")
        let progress = Shared<[BackfillProgress]>([])
        let observed = fixture.engine({ $0.pacing = pacing; $0.batchSize = 500 }) { note in
            if case .backfill(let p) = note { progress.update { $0.append(p) } }
        }
        try observed.run(.backfill, plan: "001_paced")
        try other.execute("ROLLBACK")
        other.close()
        #expect(try eventually(10) { try engine.serverActivity(probe).activeInDatabase == 0 },
                "the engine still counts a session that has left")
        #expect(try fixture.int("SELECT count(*) FROM paced WHERE email_address IS DISTINCT FROM email") == 0)
        return progress.current
    }

    @Test func adaptivePacingIsGentleWhileAnotherSessionIsActive() throws {
        let fixture = try EngineFixture("pacing-adaptive")
        defer { fixture.close() }
        let progress = try backfill(fixture, pacing: nil)
        // One line per batch of 500 rows, and the last one saying the walk is done.
        #expect(progress.count == 7)
        #expect(progress.last?.walkDone == true && progress.dropLast().allSatisfy { !$0.walkDone })
        #expect(progress.allSatisfy { $0.pace?.hasPrefix("gentle") == true && ($0.activeSessions ?? 0) >= 1 })
    }

    @Test func fullPacingIgnoresOtherSessions() throws {
        let fixture = try EngineFixture("pacing-full")
        defer { fixture.close() }
        let progress = try backfill(fixture, pacing: .full)
        #expect(!progress.isEmpty)
        #expect(progress.allSatisfy { $0.pace == "full" && $0.activeSessions == nil })
    }

    /// The query behind the back-off, on a real server: a session waiting for a row lock that
    /// the backfill's session holds is seen, and is strain.
    @Test func aSessionWaitingForTheBackfillsRowLockIsStrain() throws {
        let fixture = try EngineFixture("pacing-blocked")
        defer { fixture.close() }
        try fixture.exec("CREATE TABLE locked (id int PRIMARY KEY, v text); INSERT INTO locked VALUES (1, 'a');")
        let engine = fixture.engine()
        let backfillSession = try fixture.db.connect()   // stands for the backfill's own session
        defer { backfillSession.close() }
        #expect(try engine.serverActivity(backfillSession).blockedByBackfill == 0)

        try backfillSession.execute("BEGIN")
        try backfillSession.execute("UPDATE locked SET v = 'b' WHERE id = 1")
        let db = fixture.db
        let application = Worker("application") {
            guard let connection = try? db.connect() else { return }
            defer { connection.close() }
            _ = try? connection.execute("SET lock_timeout = '20s'")
            _ = try? connection.execute("UPDATE locked SET v = 'c' WHERE id = 1")
        }
        var activity = ServerActivity(activeSessions: 0)
        _ = try eventually(20) {
            // Inside its transaction the session would see one snapshot of pg_stat_activity.
            _ = try backfillSession.execute("SELECT pg_stat_clear_snapshot()")
            activity = try engine.serverActivity(backfillSession)
            return activity.blockedByBackfill > 0
        }
        try backfillSession.execute("ROLLBACK")
        #expect(application.join(timeout: 20))
        #expect(activity.blockedByBackfill == 1)
        #expect(activity.activeInDatabase >= 1 && activity.activeSessions >= activity.activeInDatabase)
        #expect(activity.isStrained)
        // Other tests' sessions on the same server may be queued for the WAL at that moment.
        #expect(activity.strainDescription.hasPrefix("1 blocked by the backfill's row locks"))
    }
}
