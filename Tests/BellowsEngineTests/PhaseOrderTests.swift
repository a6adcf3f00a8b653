import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Commands out of order are refused, leave the table and the plan's state exactly as they
/// were, and are recorded in the audit log; two commands at once on one plan: one wins.
@Suite(needsDatabase)
struct PhaseOrderTests {
    static let plan = """
        table: accounts
        changes:
          - alter: email
            rename_to: email_address
            not_null: true
            unique: true
        """

    static func setUp(_ fixture: EngineFixture, rows: Int = 500) throws {
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, note text);
            INSERT INTO accounts SELECT g, 'user' || g || '@example.com', NULL FROM generate_series(1, \(rows)) AS g;
            """)
        try fixture.writePlan("001_rename_email", plan)
    }

    /// Runs `command`, which must be refused by the phase gate, and checks nothing changed.
    func expectPhaseRefusal(_ fixture: EngineFixture, _ command: PhaseCommand, in phase: Phase,
                            sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let id = "001_rename_email"
        let before = try fixture.snapshot("accounts")
        let stateBefore = try fixture.state(id)
        let eventsBefore = try fixture.events(id).count
        let refusal = expectRefusal({ try fixture.run(command, id) }, sourceLocation: sourceLocation)
        #expect(refusal?.gates == ["phase"], "\(command) in \(phase): \(refusal?.text ?? "")", sourceLocation: sourceLocation)
        #expect(refusal?.phase == phase, sourceLocation: sourceLocation)
        #expect(refusal?.command == command, sourceLocation: sourceLocation)
        let after = try fixture.snapshot("accounts")
        #expect(after == before, "the table changed: \(before.difference(to: after))", sourceLocation: sourceLocation)
        let stateAfter = try #require(try fixture.state(id), sourceLocation: sourceLocation)
        if let stateBefore {
            #expect(stateAfter == stateBefore, "bellows.plans changed", sourceLocation: sourceLocation)
        } else {
            // The very first command registers the plan as planned, nothing more.
            #expect(stateAfter.phase == .planned && stateAfter.backfillCursor == nil && stateAfter.expandChecksum == nil,
                    sourceLocation: sourceLocation)
        }
        let events = try fixture.events(id)
        #expect(events.count == eventsBefore + 1, sourceLocation: sourceLocation)
        let last = try #require(events.last, sourceLocation: sourceLocation)
        #expect(last.command == command.rawValue && last.outcome == "refused" && last.fromPhase == phase.rawValue
                    && last.toPhase == nil && last.details.contains("\"phase\""),
                "\(last)", sourceLocation: sourceLocation)
    }

    @Test func outOfOrderCommandsAreRefusedAndChangeNothing() throws {
        let fixture = try EngineFixture("order")
        defer { fixture.close() }
        try Self.setUp(fixture)
        let id = "001_rename_email"

        for command in [PhaseCommand.contract, .verify, .backfill, .rollback] {
            try expectPhaseRefusal(fixture, command, in: .planned)
        }
        try fixture.run(.expand, id)
        for command in [PhaseCommand.expand, .verify, .contract] {
            try expectPhaseRefusal(fixture, command, in: .expanded)
        }
        // A backfill that stops after one batch leaves a cursor: refusals must keep it.
        let stopAfterOne = Shared(0)
        #expect(throws: BellowsError.self) {
            try fixture.run(.backfill, id) {
                $0.batchSize = 100
                $0.shouldStop = { stopAfterOne.update { $0 += 1; return $0 > 1 } }
            }
        }
        #expect(try fixture.state(id)?.backfillCursor == ["100"])
        for command in [PhaseCommand.expand, .verify, .contract] {
            try expectPhaseRefusal(fixture, command, in: .expanded)
        }
        try fixture.run(.backfill, id)
        // The resumed backfill went on after the cursor: every row counted once.
        #expect(try fixture.state(id)?.backfillRows == 500)
        #expect(try fixture.events(id).contains { $0.command == "backfill" && $0.outcome == "interrupted" })
        for command in [PhaseCommand.expand, .contract] {
            try expectPhaseRefusal(fixture, command, in: .backfilled)
        }
        try fixture.run(.verify, id)
        for command in [PhaseCommand.expand, .backfill] {
            try expectPhaseRefusal(fixture, command, in: .verified)
        }
        try fixture.run(.contract, id)
        for command in PhaseCommand.allCases {
            try expectPhaseRefusal(fixture, command, in: .contracted)
        }
    }

    @Test func rolledBackPlanRefusesAllButExpand() throws {
        let fixture = try EngineFixture("order")
        defer { fixture.close() }
        try Self.setUp(fixture)
        let id = "001_rename_email"
        try fixture.run(.expand, id)
        try fixture.run(.rollback, id)
        for command in [PhaseCommand.backfill, .verify, .contract, .rollback] {
            try expectPhaseRefusal(fixture, command, in: .rolledBack)
        }
        try fixture.forward(id, through: .contract)
        #expect(try fixture.state(id)?.phase == .contracted)
    }

    @Test func commandsWhileABackfillRunsAreRefusedByTheLock() throws {
        let fixture = try EngineFixture("lock")
        defer { fixture.close() }
        try Self.setUp(fixture, rows: 3000)
        let id = "001_rename_email"
        try fixture.run(.expand, id)
        let stop = Shared(false)
        let backfillResult = Shared<(any Error)?>(nil)
        let slow = fixture.engine { options in
            options.batchSize = 10
            options.pauseMilliseconds = 20
            options.shouldStop = { stop.current }
        }
        let backfill = Worker("backfill") {
            do { _ = try slow.run(.backfill, plan: id) } catch { backfillResult.update { $0 = error } }
        }
        #expect(try eventually(30) { (try fixture.state(id)?.backfillRows ?? 0) > 0 })
        let before = try fixture.snapshot("accounts")
        for command in [PhaseCommand.rollback, .backfill, .verify, .expand] {
            let refusal = expectRefusal { try fixture.run(command, id) }
            #expect(refusal?.gates == ["lock"], "\(command): \(refusal?.text ?? "")")
            #expect(refusal?.failures.first?.message.contains("is already running a command on plan \(id)") == true)
        }
        #expect(try fixture.snapshot("accounts") == before)
        stop.update { $0 = true }
        backfill.join()
        if case .interrupted? = backfillResult.current as? BellowsError {} else {
            Issue.record("expected the backfill to stop on request, got \(String(describing: backfillResult.current))")
        }
        #expect(try fixture.events(id).filter { $0.outcome == "refused" && $0.details.contains("\"lock\"") }.count == 4)
        // The lock is free again: the same commands run.
        try fixture.run(.rollback, id)
        #expect(try fixture.snapshot("accounts") != before)
        #expect(try fixture.state(id)?.phase == .rolledBack)
    }

    @Test func plansOnTheSameColumnConflictAndDependenciesWait() throws {
        let fixture = try EngineFixture("conflict")
        defer { fixture.close() }
        try Self.setUp(fixture)
        // Plans of another project on the same database (check, which sees one project, cannot order them).
        let other = try fixture.otherProject()
        try fixture.writePlan("002_lower_email", """
            table: accounts
            changes:
              - alter: email
                up: "lower(email)"
            """, in: other)
        try fixture.writePlan("003_rename_note", """
            table: accounts
            depends_on:
              plans: ["001"]
            changes:
              - alter: note
                rename_to: remark
            """)
        try fixture.writePlan("004_rename_note_now", """
            table: accounts
            changes:
              - alter: note
                rename_to: comment
            """, in: other)
        try fixture.run(.expand, "001_rename_email")
        let conflict = expectRefusal { try fixture.run(.expand, "002_lower_email", in: other) }
        #expect(conflict?.gates == ["conflict"], "\(conflict?.text ?? "")")
        #expect(conflict?.failures.first?.message.contains("001_rename_email") == true)
        let dependency = expectRefusal { try fixture.run(.expand, "003_rename_note") }
        #expect(dependency?.gates == ["dependency"], "\(dependency?.text ?? "")")

        // A plan on another column of the same table runs alongside.
        try fixture.run(.expand, "004_rename_note_now", in: other)
        try fixture.exec("""
            INSERT INTO accounts (id, email, note) VALUES (9001, 'old@example.com', 'old note');
            INSERT INTO accounts (id, email_address, comment) VALUES (9002, 'new@example.com', 'new note');
            """)
        for command in [PhaseCommand.backfill, .verify] {
            try fixture.run(command, "001_rename_email")
            try fixture.run(command, "004_rename_note_now", in: other)
        }
        try fixture.run(.contract, "004_rename_note_now", in: other)
        try fixture.run(.contract, "001_rename_email")
        #expect(try fixture.rows("SELECT id, email_address, comment FROM accounts WHERE id > 9000 ORDER BY id")
                == [["9001", "old@example.com", "old note"], ["9002", "new@example.com", "new note"]])
        #expect(try fixture.int("SELECT count(*) FROM accounts WHERE email_address = 'user' || id || '@example.com'") == 500)
        // 001 is contracted: 002 no longer conflicts (its column is gone, so the plan itself no longer fits).
        let stale = expectRefusal { try fixture.run(.expand, "002_lower_email", in: other) }
        #expect(stale?.gates == ["plan"], "\(stale?.text ?? "")")
        // 003 depended on 001, which is contracted now; its own column was renamed by 004 meanwhile.
        let gone = expectRefusal { try fixture.run(.expand, "003_rename_note") }
        #expect(gone?.gates == ["plan"], "\(gone?.text ?? "")")
    }

    /// A bellows session waiting for a lock on `accounts` while it holds the plan's lock.
    static let expandWaitingWithThePlanLock = """
        SELECT w.pid FROM pg_locks w JOIN pg_locks p ON p.pid = w.pid
        WHERE w.locktype = 'relation' AND w.relation = 'accounts'::regclass AND NOT w.granted
          AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND p.locktype = 'advisory' AND p.classid = hashtext('bellows')::oid AND p.objid = hashtext($1)::oid AND p.granted
        """

    /// The plan's advisory lock is per database: a session of another database holding the same
    /// plan's lock is not the one named in the refusal (the suite's parallel tests use one plan id
    /// in many databases, which made twoExpandsAtOnceOneWins name another test's session).
    @Test func theLockRefusalNamesTheHolderInThisDatabase() throws {
        let fixture = try EngineFixture("holder")
        defer { fixture.close() }
        // Four other databases' sessions hold it too: the order pg_locks lists them in is
        // arbitrary, so that one of them comes first is likely, not certain.
        let others = try (1...4).map { try EngineFixture("holder_other\($0)") }
        defer { for other in others { other.close() } }
        try Self.setUp(fixture)
        let id = "001_rename_email"
        let lockKey = "SELECT pg_advisory_lock(hashtext('bellows'), hashtext($1))"
        for other in others { try other.sql.execute(lockKey, [id]) }
        let here = try fixture.db.connect()
        defer { here.close() }
        try here.execute(lockKey, [id])
        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(refusal?.gates == ["lock"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("pid \(here.backendPID) ") == true, "\(refusal?.text ?? "")")
    }

    /// Two expands of one plan at once: the second arrives while the first is observed holding
    /// the plan's lock (held up by the test's lock on the table), so they contend for certain,
    /// and only the lock's refusal (not the phase's, which a later start would get) is right.
    @Test func twoExpandsAtOnceOneWins() throws {
        let fixture = try EngineFixture("race")
        defer { fixture.close() }
        try Self.setUp(fixture, rows: 3000)
        let id = "001_rename_email"
        let tableLock = try fixture.db.connect()
        defer { tableLock.close() }
        try tableLock.execute("BEGIN")
        try tableLock.execute("LOCK TABLE accounts IN ACCESS SHARE MODE")
        let first = Shared<Result<Phase, any Error>?>(nil)
        let patient = fixture.engine { $0.lockTimeoutMilliseconds = 120_000 }
        let worker = Worker("expand-first") {
            let result = Result<Phase, any Error> { try patient.run(.expand, plan: id).to }
            first.update { $0 = result }
        }
        var holder: Int?
        let contended = try eventually(60) {
            holder = try fixture.sql.query(Self.expandWaitingWithThePlanLock, [id]).first?.int("pid")
            return holder != nil || first.current != nil
        }
        #expect(contended && holder != nil, "the first expand was never seen holding the plan lock: \(String(describing: first.current))")

        let refusal = expectRefusal { try fixture.run(.expand, id) }
        #expect(refusal?.gates == ["lock"], "\(refusal?.text ?? "")")
        #expect(refusal?.text.contains("pid \(holder ?? -1) ") == true, "\(refusal?.text ?? "")")
        try tableLock.execute("ROLLBACK")
        worker.join()
        if case .success(.expanded)? = first.current {} else { Issue.record("the first expand: \(String(describing: first.current))") }
        #expect(try fixture.int("SELECT count(*) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'email_address' AND NOT attisdropped") == 1)
        #expect(try fixture.int("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'accounts'::regclass AND NOT tgisinternal") == 1)
        #expect(try fixture.int("SELECT count(*) FROM pg_index WHERE indrelid = 'accounts'::regclass") == 2)
        #expect(try fixture.state(id)?.phase == .expanded)
        #expect(try fixture.state(id)?.expanding == false)
        // The plan goes on normally.
        for command in [PhaseCommand.backfill, .verify, .contract] { try fixture.run(command, id) }
        #expect(try fixture.int("SELECT count(*) FROM accounts WHERE email_address LIKE 'user%'") == 3000)
    }
}
