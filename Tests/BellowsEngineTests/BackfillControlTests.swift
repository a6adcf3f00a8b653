@testable import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// `bellows pause`, `throttle` and `resume` steer a backfill running in another process,
/// through `bellows.controls`: the backfill obeys from its next batch, keeps its cursor while
/// paused (also across a restart) and finishes after `resume` with every row right.
@Suite(needsDatabase)
struct BackfillControlTests {
    static let rows = 20_000
    static let batchSize = 100
    static let rate = 1_000

    func prepare(_ fixture: EngineFixture, id: String) throws {
        try fixture.exec("""
            CREATE TABLE big (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO big SELECT g, 'user' || g || '@example.com' FROM generate_series(1, \(Self.rows)) AS g;
            ANALYZE big;
            """)
        try fixture.writePlan(id, """
            table: big
            changes:
              - alter: email
                rename_to: email_address
                not_null: true
            backfill:
              pause_ms: 0
            """)
        try fixture.run(.expand, id)
    }

    func bellows(_ fixture: EngineFixture, _ arguments: [String], log: String) throws -> BellowsProcess {
        let binary = try #require(bellowsBinary(), "the bellows executable is not built next to the tests (set BELLOWS_BINARY)")
        return try BellowsProcess(binary: binary, arguments: arguments + ["--project", fixture.root, "-d", fixture.db.conninfo, "--actor", "release-manager"],
                                  outputPath: fixture.root + "/\(log).log")
    }

    /// Runs a control command to its end; its exit status must be 0.
    func control(_ fixture: EngineFixture, _ arguments: [String], log: String) throws {
        let process = try bellows(fixture, arguments, log: log)
        let status = process.wait(timeout: 120)
        #expect(status == 0, "\(arguments): \(process.output)")
    }

    func progress(_ fixture: EngineFixture, _ id: String) throws -> (rows: Int, cursor: Int) {
        let state = try #require(try fixture.state(id))
        return (state.backfillRows, state.backfillCursor?.first.flatMap { Int($0) } ?? 0)
    }

    @Test func pauseThrottleAndResumeARunningBackfillFromAnotherProcess() throws {
        let fixture = try EngineFixture("control")
        defer { fixture.close() }
        let id = "001_big_rename"
        try prepare(fixture, id: id)
        // A state schema from before controls: the first command upgrades it in place.
        try fixture.exec("DROP TABLE bellows.controls")

        try control(fixture, ["throttle", id, "--max-rows-per-second", "\(Self.rate)"], log: "throttle")
        let first = try bellows(fixture, ["backfill", id, "--batch-size", "\(Self.batchSize)", "--pacing", "full", "--format", "json"], log: "first")
        #expect(try eventually(120) { try progress(fixture, id).rows > 0 || !first.process.isRunning })
        #expect(first.process.isRunning, "\(first.output)")

        // Under the throttle: at most `rate` rows a second, give or take the batch in flight.
        let (rowsBefore, timeBefore) = (try progress(fixture, id).rows, Date())
        Thread.sleep(forTimeInterval: 3)
        let (rowsAfter, seconds) = (try progress(fixture, id).rows, Date().timeIntervalSince(timeBefore))
        #expect(rowsAfter > rowsBefore, "the throttled backfill still moves")
        #expect(Double(rowsAfter - rowsBefore) <= Double(Self.rate) * seconds + Double(Self.batchSize),
                "\(rowsAfter - rowsBefore) rows in \(seconds) s under a throttle of \(Self.rate) rows/s")

        // Pause: at most the batch in flight commits after it, then the cursor stands still.
        try control(fixture, ["pause", id], log: "pause")
        let atPause = try progress(fixture, id).cursor
        Thread.sleep(forTimeInterval: 2.5)
        let stopped = try progress(fixture, id).cursor
        #expect(stopped - atPause <= Self.batchSize, "the backfill wrote \(stopped - atPause) keys past the pause")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try progress(fixture, id).cursor == stopped, "a paused backfill writes nothing")
        #expect(first.process.isRunning)
        #expect(first.output.contains("paused by release-manager"), "\(first.output)")
        #expect(stopped < Self.rows)
        let board = try #require(try fixture.engine().status().first { $0.id == id })
        #expect(board.control?.paused == true && board.control?.maxRowsPerSecond == Self.rate, "\(String(describing: board.control))")

        // Stopped while paused: interrupted, the cursor kept; a new backfill waits, still paused.
        kill(first.process.processIdentifier, SIGTERM)
        #expect(first.wait(timeout: 60) == 4, "\(first.output)")
        #expect(try progress(fixture, id).cursor == stopped)
        let second = try bellows(fixture, ["backfill", id, "--batch-size", "\(Self.batchSize)", "--pacing", "full", "--format", "json"], log: "second")
        #expect(try eventually(60) { second.output.contains("paused by release-manager") || !second.process.isRunning }, "\(second.output)")
        Thread.sleep(forTimeInterval: 1.5)
        #expect(second.process.isRunning, "\(second.output)")
        #expect(try progress(fixture, id).cursor == stopped, "a backfill started while paused writes nothing")

        // Resume (without the throttle): it goes on from the cursor and finishes, every row right.
        try control(fixture, ["throttle", id, "--clear"], log: "clear")
        try control(fixture, ["resume", id], log: "resume")
        #expect(second.wait(timeout: 120) == 0, "\(second.output)")
        #expect(second.output.contains("resuming the backfill of \(id) after key (\(stopped))"), "\(second.output)")
        let state = try #require(try fixture.state(id))
        #expect(state.phase == .backfilled)
        #expect(state.backfillRows == Self.rows)
        #expect(try fixture.int("SELECT count(*) FROM big WHERE email_address IS DISTINCT FROM email") == 0)

        // Every change is in the audit trail, by who made it.
        let changes = try fixture.events(id).filter { ["pause", "resume", "throttle"].contains($0.command) }
        #expect(changes.map(\.command) == ["throttle", "pause", "throttle", "resume"])
        #expect(changes.allSatisfy { $0.actor == "release-manager" && $0.outcome == "succeeded" })
        try fixture.run(.verify, id)
    }

    @Test func aControlOfAnUnknownPlanIsAUsageError() throws {
        let fixture = try EngineFixture("control-unknown")
        defer { fixture.close() }
        #expect(throws: BellowsError.self) { try fixture.engine().control(plan: "404_nothing", .pause) }
        #expect(throws: BellowsError.self) { try fixture.engine().control(plan: "404_nothing", .throttle(maxRowsPerSecond: nil, batchSize: nil, clear: false)) }
    }
}

/// `bellows wait` ends 0 once another process moves the plan to the phase, 6 on timeout and 7
/// when the plan is rolled back meanwhile; it creates nothing on a database without state.
@Suite(needsDatabase)
struct WaitTests {
    func prepare(_ fixture: EngineFixture, id: String) throws {
        try fixture.exec("""
            CREATE TABLE small (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO small SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 500) AS g;
            """)
        try fixture.writePlan(id, """
            table: small
            changes:
              - alter: email
                rename_to: email_address
            """)
    }

    func wait(_ fixture: EngineFixture, _ arguments: [String], log: String) throws -> BellowsProcess {
        let binary = try #require(bellowsBinary(), "the bellows executable is not built next to the tests (set BELLOWS_BINARY)")
        return try BellowsProcess(binary: binary, arguments: ["wait"] + arguments + ["--interval", "0.2", "--project", fixture.root, "-d", fixture.db.conninfo],
                                  outputPath: fixture.root + "/\(log).log")
    }

    @Test func waitEndsWhenAnotherProcessAdvancesThePlanAndTimesOutOtherwise() throws {
        let fixture = try EngineFixture("wait")
        defer { fixture.close() }
        let id = "001_small_rename"
        try prepare(fixture, id: id)

        // No state yet: planned, and wait creates none.
        let early = try wait(fixture, [id, "--for", "expanded", "--timeout", "0.5"], log: "early")
        #expect(early.wait(timeout: 60) == 6, "\(early.output)")
        #expect(try fixture.int("SELECT count(*) FROM pg_namespace WHERE nspname = 'bellows'") == 0)

        try fixture.run(.expand, id)
        let waiter = try wait(fixture, [id, "--for", "verified", "--timeout", "120"], log: "waiter")
        Thread.sleep(forTimeInterval: 1)
        #expect(waiter.process.isRunning, "\(waiter.output)")
        try fixture.run(.backfill, id)
        try fixture.run(.verify, id)
        #expect(waiter.wait(timeout: 60) == 0, "\(waiter.output)")
        #expect(waiter.output.contains("is verified"), "\(waiter.output)")

        // Past the phase is reached; a phase not reached in time is exit 6.
        let past = try wait(fixture, [id, "--for", "expanded", "--timeout", "0", "--format", "json"], log: "past")
        #expect(past.wait(timeout: 60) == 0, "\(past.output)")
        #expect(past.output.contains("\"result\":\"reached\""), "\(past.output)")
        let late = try wait(fixture, [id, "--for", "contracted", "--timeout", "1"], log: "late")
        #expect(late.wait(timeout: 60) == 6, "\(late.output)")

        // Rolled back while waited for: exit 7.
        let away = try wait(fixture, [id, "--for", "contracted", "--timeout", "120"], log: "away")
        Thread.sleep(forTimeInterval: 1)
        try fixture.run(.rollback, id)
        #expect(away.wait(timeout: 60) == 7, "\(away.output)")
    }
}

/// How a throttle shapes batches and rests, and when a wait ends: pure.
struct ControlDecisionTests {
    @Test func aRateLimitCapsTheBatchAndStretchesTheRest() {
        var pacer = BackfillPacer(settings: BackfillSettings(), pacing: .full, fixedBatchSize: 500, pauseMilliseconds: 0)
        #expect(pacer.nextBatchSize == 500)
        #expect(pacer.restMilliseconds(afterBatchOf: 40, rows: 500) == 0)
        let changed = pacer.apply(BackfillControl(maxRowsPerSecond: 200))
        let again = pacer.apply(BackfillControl(maxRowsPerSecond: 200))
        #expect(changed && !again)
        #expect(pacer.nextBatchSize == 200)
        // 200 rows at 200 rows/s take a second: a batch of 40 ms rests 960 ms.
        #expect(pacer.restMilliseconds(afterBatchOf: 40, rows: 200) == 960)
        #expect(pacer.restMilliseconds(afterBatchOf: 1500, rows: 200) == 0)
        _ = pacer.apply(BackfillControl(batchSize: 50))
        #expect(pacer.nextBatchSize == 50)
        let halved = pacer.statementTimedOut()
        #expect(halved)
        #expect(pacer.nextBatchSize == 25)
        _ = pacer.apply(BackfillControl())
        #expect(pacer.nextBatchSize == 25, "the timeout's ceiling outlives the throttle")
    }

    /// hostile-d 34: a pause or throttle outlived rollback and contract, so the next expand's
    /// backfill waited for a `resume` nobody knew was needed, and `status` told a contracted
    /// plan to resume. Both phases now clear the control, in their transaction, and say so.
    @Test func rollbackAndContractClearThePlansControl() throws {
        let fixture = try EngineFixture("control-cleared")
        defer { fixture.close() }
        let id = "001_small_rename"
        try fixture.exec("""
            CREATE TABLE small (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO small SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 500) AS g;
            """)
        try fixture.writePlan(id, """
            table: small
            changes:
              - alter: email
                rename_to: email_address
            """)
        let engine = fixture.engine()
        func control() throws -> BackfillControl? { try StateStore.control(fixture.sql, plan: id) }
        func boardControl() throws -> BackfillControl? { try #require(try engine.status().first { $0.id == id }).control }
        func cleared(_ command: String) throws -> JSONValue? {
            let event = try #require(try fixture.events(id).last { $0.command == command })
            guard case .object(let details) = try JSONDecoder().decode(JSONValue.self, from: Data(event.details.utf8)) else { return nil }
            return details["control_cleared"]
        }

        try fixture.run(.expand, id)
        _ = try engine.control(plan: id, .throttle(maxRowsPerSecond: 1, batchSize: nil, clear: false))
        _ = try engine.control(plan: id, .pause)
        try fixture.run(.rollback, id)
        #expect(try control() == nil, "the pause outlived the rollback")
        #expect(try boardControl() == nil)
        let afterRollback = try cleared("rollback")
        #expect(afterRollback?.serialized.contains("\"paused\":true") == true, "\(String(describing: afterRollback))")

        // The next attempt's backfill is not held by the old pause (it would wait for ever).
        try fixture.run(.expand, id)
        let stopAt = Date().addingTimeInterval(30)
        try fixture.run(.backfill, id) { $0.shouldStop = { Date() > stopAt } }
        try fixture.run(.verify, id)
        _ = try engine.control(plan: id, .pause)
        try fixture.run(.contract, id)
        #expect(try control() == nil, "the pause outlived the contract")
        #expect(try cleared("contract")?.serialized.contains("\"paused\":true") == true)
        // A control left on a contracted plan (by an older bellows) is not shown: nothing to resume.
        try fixture.exec("INSERT INTO bellows.controls (plan_id, paused, actor) VALUES ('\(id)', true, 'old-bellows')")
        #expect(try boardControl() == nil)
    }

    @Test func changesApplyToTheControl() {
        let throttled = ControlChange.throttle(maxRowsPerSecond: 100, batchSize: nil, clear: false).applied(to: BackfillControl(batchSize: 10))
        #expect(throttled == BackfillControl(maxRowsPerSecond: 100, batchSize: 10))
        #expect(ControlChange.throttle(maxRowsPerSecond: nil, batchSize: 5, clear: true).applied(to: throttled) == BackfillControl(batchSize: 5))
        #expect(ControlChange.pause.applied(to: throttled).paused)
        #expect(!ControlChange.resume.applied(to: ControlChange.pause.applied(to: throttled)).paused)
        #expect(ControlChange.pause.applied(to: BackfillControl()).summary == "paused")
    }

    @Test(arguments: [
        (Phase.verified, Phase.verified, Phase.expanded, WaitResult?.some(.reached)),
        (.verified, .contracted, .expanded, .reached),
        (.verified, .backfilled, .expanded, nil),
        (.verified, .rolledBack, .expanded, .movedAway),
        (.verified, .rolledBack, .rolledBack, nil),
        (.rolledBack, .verified, .verified, nil),
        (.rolledBack, .rolledBack, .verified, .reached),
        (.rolledBack, .contracted, .verified, .movedAway),
    ])
    func whenAWaitEnds(target: Phase, phase: Phase, initial: Phase, expected: WaitResult?) {
        #expect(WaitOutcome.verdict(target: target, phase: phase, initial: initial) == expected)
    }
}
