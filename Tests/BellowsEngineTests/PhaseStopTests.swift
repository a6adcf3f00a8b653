import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// A stop request (SIGINT/SIGTERM) outside the backfill cancels the running statement, rolls
/// back and says how to resume; a concurrent index build says which session it waits for.
@Suite(needsDatabase)
struct PhaseStopTests {
    static func setUp(_ fixture: EngineFixture, id: String) throws {
        try fixture.exec("""
            CREATE TABLE t (id bigint PRIMARY KEY, email text UNIQUE);
            CREATE TABLE unrelated (id int);
            INSERT INTO t SELECT g, 'u' || g FROM generate_series(1, 200) AS g;
            """)
        try fixture.writePlan(id, """
            table: t
            changes:
              - alter: email
                rename_to: mail
            """)
    }

    /// Runs `command` on a worker with a stop flag; the outcome or the error as text.
    final class Run: @unchecked Sendable {
        let stop = Shared(false)
        let notes = Shared<[String]>([])
        let outcome = Shared<Result<PhaseOutcome, Error>?>(nil)
        var worker: Worker?

        init(_ fixture: EngineFixture, _ command: PhaseCommand, _ id: String, configure: @escaping @Sendable (inout EngineOptions) -> Void = { _ in }) {
            let (stop, notes, outcome) = (stop, notes, outcome)
            worker = Worker("run \(command)") {
                let engine = fixture.engine({ options in
                    options.shouldStop = { stop.current }
                    configure(&options)
                }, reporter: { note in
                    if case .info(let text) = note { notes.update { $0.append(text) } }
                })
                let result = Result { try engine.run(command, plan: id) }
                outcome.update { $0 = result }
            }
        }

        var stoppedResume: String? {
            guard case .failure(BellowsError.stopped(_, _, _, let resume))? = outcome.current else { return nil }
            return resume
        }
    }

    @Test func aSignalDuringVerifyCancelsItsScan() throws {
        let fixture = try EngineFixture("stop-verify")
        defer { fixture.close() }
        let id = "001_rename"
        try Self.setUp(fixture, id: id)
        try fixture.run(.expand, id)
        try fixture.run(.backfill, id)
        let holder = try fixture.db.connect()
        defer { holder.close() }
        try holder.execute("BEGIN")
        try holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")

        let run = Run(fixture, .verify, id)
        #expect(try eventually(30) {
            try fixture.int("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'bellows' AND wait_event_type = 'Lock'") == 1
        })
        run.stop.update { $0 = true }
        let ended = run.worker?.join(timeout: 30) ?? false
        try holder.execute("COMMIT")
        if !ended { run.worker?.join() }
        #expect(run.stoppedResume == "bellows verify \(id)", "\(String(describing: run.outcome.current))")
        #expect(try fixture.state(id)?.phase == .backfilled)
        #expect(try fixture.events(id).last?.outcome == "interrupted")
        try fixture.run(.verify, id)
    }

    /// An index build waits for an unrelated session's old snapshot: it says so (pid, query,
    /// transaction age) while it waits; a stop leaves the expand resumable, and it resumes.
    @Test func anIndexBuildWaitingForAnOldSnapshotSaysWhoAndStops() throws {
        let fixture = try EngineFixture("stop-index")
        defer { fixture.close() }
        let id = "001_rename"
        try Self.setUp(fixture, id: id)
        let snapshot = try fixture.db.connect()
        defer { snapshot.close() }
        try snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try snapshot.execute("SELECT count(*) FROM unrelated")
        let holder = snapshot.backendPID

        let run = Run(fixture, .expand, id) { $0.indexWaitReportSeconds = 0.2 }
        let reported = try eventually(30) {
            run.notes.current.contains { $0.contains("has waited") && $0.contains("pid \(holder)") && $0.contains("SELECT count(*) FROM unrelated") }
        }
        #expect(reported, "\(run.notes.current)")
        run.stop.update { $0 = true }
        let ended = run.worker?.join(timeout: 30) ?? false
        try snapshot.execute("COMMIT")
        if !ended { run.worker?.join() }
        #expect(run.stoppedResume == "bellows expand \(id)", "\(String(describing: run.outcome.current))")
        #expect(try fixture.state(id)?.expanding == true)

        try fixture.run(.expand, id)
        #expect(try fixture.state(id)?.phase == .expanded)
        #expect(try fixture.int("SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass AND NOT indisvalid") == 0)
    }

    /// With an index timeout, the failure names the session whose snapshot the build waited for.
    @Test func anIndexTimeoutNamesTheSessionItWaitedFor() throws {
        let fixture = try EngineFixture("index-timeout")
        defer { fixture.close() }
        let id = "001_rename"
        try Self.setUp(fixture, id: id)
        let snapshot = try fixture.db.connect()
        defer { snapshot.close() }
        try snapshot.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try snapshot.execute("SELECT count(*) FROM unrelated")
        do {
            try fixture.run(.expand, id) { $0.indexTimeoutMilliseconds = 3000; $0.indexWaitReportSeconds = 0.2 }
            Issue.record("the build should have timed out")
        } catch BellowsError.failed(_, _, _, let error) {
            #expect(error.message.contains("pid \(snapshot.backendPID)"), "\(error)")
            #expect(error.hint?.contains("bellows expand \(id)") == true)
        }
        try snapshot.execute("COMMIT")
        try fixture.run(.expand, id)
        #expect(try fixture.state(id)?.phase == .expanded)
    }
}
