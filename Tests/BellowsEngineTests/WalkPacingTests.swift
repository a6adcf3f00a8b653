@testable import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Issue 22: the walks other than the backfill's own — contract's copy into the archive and a
/// `move_columns` plan's copy into its new table — pace themselves as the backfill does. Before,
/// contract's archive copy ran full-speed 200 ms batches beside the application, whose writes to
/// keys a batch had just archived waited for it (`scripts/bench`: +160 ms worst latency), and a
/// move's copy ignored the server's sessions. As in `BackfillPacingTests`, the test's own session
/// idles in a transaction in the test's own database: the engine counts it as active.
@Suite(needsDatabase, .serialized)
struct WalkPacingTests {
    /// Runs `work` while another session of the fixture's database is idle in a transaction
    /// (seen by the engine as the application), returning the engine's notes.
    /// A probe session, and another session of the fixture's database idle in a transaction.
    func probeAndIdleTransaction(_ fixture: EngineFixture) throws -> (probe: Connection, other: Connection) {
        let probe = try fixture.db.connect()
        let other = try fixture.db.connect()
        try other.execute("BEGIN")
        _ = try other.query("SELECT 1")
        return (probe, other)
    }

    func withAnotherSession(_ fixture: EngineFixture, pacing: BackfillPacing?, _ phase: PhaseCommand, _ plan: String) throws -> [EngineNote] {
        let (probe, other) = try probeAndIdleTransaction(fixture)
        defer { probe.close(); other.close() }
        let engine = fixture.engine({ $0.pacing = pacing; $0.batchSize = 500 })
        #expect(try eventually(10) { try engine.serverActivity(probe).activeInDatabase == 1 },
                "the engine does not see the test's idle transaction")
        let notes = Shared<[EngineNote]>([])
        let observed = fixture.engine({ $0.pacing = pacing; $0.batchSize = 500 }) { note in notes.update { $0.append(note) } }
        try observed.run(phase, plan: plan)
        try other.execute("ROLLBACK")
        return notes.current
    }

    func contracted(_ label: String, pacing: BackfillPacing?) throws -> (EngineFixture, [String]) {
        let fixture = try EngineFixture(label)
        try fixture.exec("""
            CREATE TABLE archived (id bigint PRIMARY KEY, email text);
            INSERT INTO archived SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 3000) AS g;
            ANALYZE archived;
            """)
        try fixture.writePlan("001_archived", """
            table: archived
            changes:
              - alter: email
                rename_to: email_address
            """)
        let quick: (inout EngineOptions) -> Void = { $0.pacing = .full }
        try fixture.run(.expand, "001_archived", quick)
        try fixture.run(.backfill, "001_archived", quick)
        try fixture.run(.verify, "001_archived", quick)
        let notes = try withAnotherSession(fixture, pacing: pacing, .contract, "001_archived")
        return (fixture, notes.compactMap { if case .info(let message) = $0 { message } else { nil } })
    }

    @Test func contractsArchiveCopyIsGentleWhileTheApplicationIsActive() throws {
        let (fixture, infos) = try contracted("walk-archive-adaptive", pacing: nil)
        defer { fixture.close() }
        #expect(infos.contains { $0.hasPrefix("archive of 001_archived: pace gentle") }, "\(infos)")
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_archived_archived\" WHERE email = 'user' || id || '@example.com'") == 3000)
    }

    @Test func contractsArchiveCopyAtFullPaceIgnoresTheApplication() throws {
        let (fixture, infos) = try contracted("walk-archive-full", pacing: .full)
        defer { fixture.close() }
        #expect(!infos.contains { $0.contains(": pace ") }, "\(infos)")
        #expect(try fixture.int("SELECT count(*) FROM bellows_archive.\"001_archived_archived\"") == 3000)
    }

    @Test func aMovesCopyIsGentleWhileTheApplicationIsActive() throws {
        let fixture = try EngineFixture("walk-move-adaptive")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE profiles (id bigint PRIMARY KEY, headline text, bio text);
            INSERT INTO profiles SELECT g, 'h' || g, 'bio ' || g FROM generate_series(1, 3000) AS g;
            ANALYZE profiles;
            """)
        try fixture.writePlan("001_move", "table: profiles\nmove_columns:\n  to: profile_bios\n  columns: [bio]\n")
        try fixture.run(.expand, "001_move", { $0.pacing = .full })
        let notes = try withAnotherSession(fixture, pacing: nil, .backfill, "001_move")
        let progress = notes.compactMap { if case .backfill(let p) = $0 { p } else { nil } }
        #expect(!progress.isEmpty)
        #expect(progress.allSatisfy { $0.pace?.hasPrefix("gentle") == true }, "\(progress.map(\.pace))")
        #expect(try fixture.int("SELECT count(*) FROM profile_bios b JOIN profiles p USING (id) WHERE b.bio = p.bio") == 3000)
    }

    /// The backfill's VACUUM session (BackgroundVacuum) is Bellows' own: the pacer leaves it
    /// out of the sessions it counts as the application, or every VACUUM would turn the
    /// backfill gentle.
    @Test func theBackfillsOwnVacuumSessionIsNotTheApplication() throws {
        let fixture = try EngineFixture("walk-own-session")
        defer { fixture.close() }
        let (probe, other) = try probeAndIdleTransaction(fixture)
        defer { probe.close(); other.close() }
        let engine = fixture.engine()
        #expect(try eventually(10) { try engine.serverActivity(probe).activeInDatabase == 1 })
        #expect(try engine.serverActivity(probe, excluding: [other.backendPID]).activeInDatabase == 0)
        try other.execute("ROLLBACK")
    }
}
