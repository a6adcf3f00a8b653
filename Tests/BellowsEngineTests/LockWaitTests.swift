import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// DDL behind a long transaction waits politely: short lock timeouts, retries, the blocker
/// reported, and the application's queries never stuck behind Bellows for long.
@Suite(needsDatabase)
struct LockWaitTests {
    @Test func expandWaitsBehindAReaderWithoutStallingTheApplication() throws {
        let fixture = try EngineFixture("lockwait")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL, note text);
            INSERT INTO accounts SELECT g, 'user' || g || '@example.com', NULL FROM generate_series(1, 2000) AS g;
            """)
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: accounts
            changes:
              - alter: email
                rename_to: email_address
            """)
        // Create the state schema first, so the wait below is only about the table.
        try fixture.engine().connect().close()

        let reader = try fixture.db.connect()
        defer { reader.close() }
        let readerPID = Int(reader.backendPID)
        try reader.execute("BEGIN")
        try reader.execute("LOCK TABLE accounts IN ACCESS SHARE MODE")
        let readerStarted = Date()

        let notes = Shared<[EngineNote]>([])
        let engine = fixture.engine({ $0.lockTimeoutMilliseconds = 200; $0.ddlRetries = 10 }, reporter: { note in
            notes.update { $0.append(note) }
        })
        let expandResult = Shared<Result<Phase, any Error>?>(nil)
        let expand = Worker("expand") {
            do {
                let outcome = try engine.run(.expand, plan: id)
                expandResult.update { $0 = .success(outcome.to) }
            } catch {
                expandResult.update { $0 = .failure(error) }
            }
        }

        // The application keeps reading and writing while Bellows waits.
        let probeLatencies = Shared<[Double]>([])
        let probeErrors = Shared<[String]>([])
        let stopProbe = Shared(false)
        let conninfo = fixture.db.conninfo
        let probe = Worker("probe") {
            guard let connection = try? Connection(conninfo) else {
                probeErrors.update { $0.append("probe could not connect") }
                return
            }
            defer { connection.close() }
            var n = 0
            while !stopProbe.current {
                n += 1
                let started = Date()
                do {
                    _ = try connection.query("SELECT email FROM accounts WHERE id = $1", [n % 2000 + 1])
                    try connection.execute("INSERT INTO accounts (id, email) VALUES ($1, $2)", [100_000 + n, "probe\(n)@example.com"])
                    probeLatencies.update { $0.append(Date().timeIntervalSince(started)) }
                } catch {
                    probeErrors.update { $0.append("\(error)") }
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }

        // The reader holds its lock for about 3 s, then commits.
        Thread.sleep(forTimeInterval: max(0, 3 - Date().timeIntervalSince(readerStarted)))
        let waitsWhileReaderHeld = notes.read { $0.filter { if case .lockWait = $0 { return true } else { return false } }.count }
        #expect(expandResult.current == nil, "expand finished while the reader still held its lock")
        try reader.execute("COMMIT")
        #expect(expand.join(timeout: 60), "expand did not finish after the reader committed")
        stopProbe.update { $0 = true }
        probe.join()

        let outcome = expandResult.current
        if case .success(let phase) = outcome { #expect(phase == .expanded) } else { Issue.record("expand: \(String(describing: outcome))") }
        #expect(try fixture.state(id)?.phase == .expanded)
        #expect(waitsWhileReaderHeld >= 2, "expected several lock waits while the reader held its lock")
        let waits = notes.read { notes in
            notes.compactMap { note -> (of: Int, blockers: [Blocker])? in
                if case .lockWait(_, let of, _, let blockers) = note { return (of, blockers) }
                return nil
            }
        }
        #expect(waits.allSatisfy { $0.of == 10 })
        // Each wait names the reader, first (the oldest transaction). An application query that
        // queued behind Bellows and got its lock as Bellows gave up may be listed after it.
        for wait in waits {
            #expect(wait.blockers.first?.pid == readerPID, "blockers: \(wait.blockers)")
            #expect(wait.blockers.first?.lockMode.contains("AccessShareLock") == true)
            #expect(wait.blockers.first?.query?.contains("LOCK TABLE accounts") == true)
        }

        #expect(probeErrors.current.isEmpty, "\(probeErrors.current)")
        let latencies = probeLatencies.current
        #expect(latencies.count >= 20, "the probe made only \(latencies.count) round trips")
        let worst = latencies.max() ?? 0
        #expect(worst < 1.0, "an application query waited \(String(format: "%.2f", worst)) s behind Bellows")
    }

    /// hostile-c 06: a prepared transaction (2PC) holding the table's lock has no session
    /// (`pg_blocking_pids` says pid 0); every retry said "the blocking session has finished".
    /// It is named now — gid, owner, when prepared — with COMMIT/ROLLBACK PREPARED as the remedy.
    @Test func aPreparedTransactionHoldingTheLockIsNamedWithItsRemedy() throws {
        let fixture = try EngineFixture("prepared")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE ledger (id bigint PRIMARY KEY, amount int NOT NULL, memo text);
            INSERT INTO ledger SELECT g, g, 'm' || g FROM generate_series(1, 100) AS g;
            """)
        let id = "001_rename_memo"
        try fixture.writePlan(id, """
            table: ledger
            changes:
              - alter: memo
                rename_to: note
            """)
        try fixture.engine().connect().close()
        let holder = try fixture.db.connect()
        defer { holder.close() }
        guard try holder.query("SELECT current_setting('max_prepared_transactions')::int AS n").first?.int("n") ?? 0 > 0 else {
            print("skipped aPreparedTransactionHoldingTheLockIsNamedWithItsRemedy: max_prepared_transactions = 0 on this server (scripts/test starts its clusters with max_prepared_transactions=5)")
            return
        }
        let gid = "bellows_test_\(UInt32.random(in: 0...UInt32.max))"
        try holder.execute("BEGIN")
        try holder.execute("UPDATE ledger SET amount = amount + 1 WHERE id = 1")
        try holder.execute("PREPARE TRANSACTION '\(gid)'")
        // Before the database is dropped (a prepared transaction would keep it).
        defer { _ = try? holder.execute("ROLLBACK PREPARED '\(gid)'") }

        let notes = Shared<[EngineNote]>([])
        let engine = fixture.engine({ $0.lockTimeoutMilliseconds = 100; $0.ddlRetries = 1 }, reporter: { note in
            notes.update { $0.append(note) }
        })
        #expect(throws: (any Error).self) { try engine.run(.expand, plan: id) }
        let blockers = notes.read { notes in
            notes.flatMap { note -> [Blocker] in
                if case .lockWait(_, _, _, let blockers) = note { return blockers }
                return []
            }
        }
        #expect(!blockers.isEmpty, "the lock wait named no blocker")
        let named = blockers.first { $0.description.contains("prepared transaction '\(gid)'") }
        #expect(named?.pid == 0)
        #expect(named?.description.contains("ROLLBACK PREPARED '\(gid)'") == true, "\(blockers)")
        #expect(named?.description.contains("RowExclusiveLock") == true)
        #expect(named?.json.serialized.contains("\"prepared_transaction\":{") == true)
    }

    /// The backfill's own VACUUM does not queue behind another vacuum of the table (as
    /// autovacuum's lock would hold it): it skips, says so, and the backfill goes on.
    @Test func backfillVacuumSkipsATableAnotherVacuumHolds() throws {
        let fixture = try EngineFixture("lockwait")
        defer { fixture.close() }
        try fixture.exec("""
            CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);
            INSERT INTO accounts SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 2000) AS g;
            """)
        let id = "001_rename_email"
        try fixture.writePlan(id, """
            table: accounts
            changes:
              - alter: email
                rename_to: email_address
            backfill:
              vacuum_every_rows: 500
            """)
        try fixture.run(.expand, id)
        // Another session holds the lock a VACUUM takes, as a running autovacuum does.
        let vacuum = try fixture.db.connect()
        defer { vacuum.close() }
        try vacuum.execute("BEGIN")
        try vacuum.execute("LOCK TABLE accounts IN SHARE UPDATE EXCLUSIVE MODE")

        let notes = Shared<[String]>([])
        // Were the backfill to wait for that lock, it would wait the whole lock_timeout.
        let engine = fixture.engine({ $0.conninfo = fixture.db.conninfo + " options='-c lock_timeout=10s'" }, reporter: { note in
            if case .info(let text) = note { notes.update { $0.append(text) } }
        })
        let started = Date()
        let outcome = try engine.run(.backfill, plan: id)
        let seconds = Date().timeIntervalSince(started)
        try vacuum.execute("COMMIT")
        #expect(outcome.details["rows_updated"] == .int(2000))
        let skipped = notes.read { $0.filter { $0.contains("skipped that VACUUM") }.count }
        #expect(skipped >= 3, "\(notes.current)")
        #expect(seconds < 5, "the backfill took \(seconds) s beside the held lock")
    }
}
