import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// Issue 22: `backfill.max_replica_lag_ms` against a real streaming replica. A private cluster
/// (the server binaries of `$BELLOWS_PG_BINDIR`, else those `ScratchCluster` finds) gets a
/// replica by `pg_basebackup -R`; the replica's replay is paused, so it falls behind while the
/// backfill writes; the backfill waits and says why; it goes on once replay resumes.
/// `BELLOWS_SKIP_REPLICA=1` skips it on a machine without the server binaries (pg_basebackup).
@Suite(.enabled(if: TestDatabase.enabled && ProcessInfo.processInfo.environment["BELLOWS_SKIP_REPLICA"] != "1",
                "BELLOWS_SKIP_REPLICA=1 (or BELLOWS_SKIP_DB_TESTS=1) skips the streaming replica test"))
struct ReplicaLagTests {
    @Test func theBackfillWaitsForAReplicaWhoseReplayIsPausedAndGoesOnWhenItResumes() throws {
        let primary = try ScratchCluster.start(settings: ["wal_level": "replica", "max_wal_senders": "4"])
        defer { primary.destroy() }
        // Status messages every second: the primary learns soon that the replica replayed.
        let replica = try primary.startStreamingReplica(settings: ["wal_receiver_status_interval": "1"])
        defer { replica.destroy() }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("bellows-replica-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }

        let sql = try Connection(primary.conninfo())
        defer { sql.close() }
        try sql.executeScript("""
            CREATE TABLE items (id bigint PRIMARY KEY, n integer NOT NULL);
            INSERT INTO items SELECT g, g FROM generate_series(1, 30000) AS g;
            ANALYZE items;
            """)
        let id = "001_widen_n"
        try """
            table: items
            changes:
              - alter: n
                type: bigint
                up: "n::bigint"
                down: "n::integer"
            backfill:
              pause_ms: 20
              max_replica_lag_ms: 300
            """.write(toFile: root + "/plans/\(id).yaml", atomically: true, encoding: .utf8)
        var options = EngineOptions(conninfo: primary.conninfo(), actor: "replica-tests")
        options.batchSize = 200
        options.pauseMilliseconds = 20
        try Engine(project: Project(root: root), options: options).run(.expand, plan: id)

        let standby = try Connection(replica.conninfo())
        defer { standby.close() }
        #expect(try eventually(30) {
            try sql.query("SELECT count(*) AS n FROM pg_stat_replication WHERE state = 'streaming'").first?.int("n") == 1
        }, "the replica does not stream")
        // The replica has replayed expand; its replay stops now, while it is caught up.
        #expect(try eventually(30) {
            try standby.query("SELECT to_regclass('bellows.plans') IS NOT NULL AS here").first?.bool("here") == true
        })
        try standby.execute("SELECT pg_wal_replay_pause()")

        let waits = Shared<[String]>([])
        let notes = Shared<[String]>([])
        let scannedAtWait = Shared<Int?>(nil)
        let result = Shared<Result<PhaseOutcome, any Error>?>(nil)
        let engine = Engine(project: Project(root: root), options: options) { note in
            switch note {
            case .backfill(let progress):
                if let why = progress.throttled {
                    waits.update { $0.append(why) }
                    scannedAtWait.update { $0 = $0 ?? progress.rowsScanned }
                }
            case .info(let message): notes.update { $0.append(message) }
            default: break
            }
        }
        let worker = Worker("backfill") {
            let outcome = Result<PhaseOutcome, any Error> { try engine.run(.backfill, plan: id) }
            result.update { $0 = outcome }
        }

        // The backfill stops for the lagging replica, says why, and stays stopped.
        #expect(eventually(30) { !waits.current.isEmpty || result.current != nil }, "the backfill never waited: \(notes.current)")
        let why = try #require(waits.current.first, "the backfill ended without waiting: \(notes.current)")
        #expect(why.hasPrefix("replica lag ") && why.contains("> 300 ms (backfill.max_replica_lag_ms)"), "\(why)")
        #expect(notes.current.contains { $0.contains("waiting for the replicas to replay") }, "\(notes.current)")
        let rowsAtWait = try sql.query("SELECT backfill_rows AS n FROM bellows.plans WHERE id = $1", [id]).first?.int("n") ?? -1
        Thread.sleep(forTimeInterval: 3)
        #expect(result.current == nil, "the backfill ended while the replica's replay was paused")
        #expect(try sql.query("SELECT backfill_rows AS n FROM bellows.plans WHERE id = $1", [id]).first?.int("n") == rowsAtWait,
                "batches ran while the replica lagged")
        #expect((scannedAtWait.current ?? 30_000) < 30_000)

        // Replay resumes: the replica catches up and the backfill goes on to the end.
        try standby.execute("SELECT pg_wal_replay_resume()")
        #expect(worker.join(timeout: 40), "the backfill did not end after the replica caught up")
        let outcome = try #require(result.current).get()
        #expect(outcome.details["rows_updated"] == .int(30_000))
        #expect(notes.current.contains { $0.contains("the replicas caught up") }, "\(notes.current)")
        try Engine(project: Project(root: root), options: options).run(.verify, plan: id)

        // Contract's copy of the dropped column into the archive is paced as the backfill is:
        // it waits for the lagging replica too, and goes on when it catches up (issue 22).
        #expect(try eventually(30) {
            try standby.query("SELECT count(*) AS n FROM bellows.events WHERE command = 'verify'").first?.int("n") == 1
        }, "the replica did not replay verify")
        try standby.execute("SELECT pg_wal_replay_pause()")
        let contractNotes = Shared<[String]>([])
        let contracted = Shared<Result<PhaseOutcome, any Error>?>(nil)
        let contractEngine = Engine(project: Project(root: root), options: options) { note in
            if case .info(let message) = note { contractNotes.update { $0.append(message) } }
        }
        let contractWorker = Worker("contract") {
            let outcome = Result<PhaseOutcome, any Error> { try contractEngine.run(.contract, plan: id) }
            contracted.update { $0 = outcome }
        }
        #expect(eventually(30) {
            contractNotes.current.contains { $0.hasPrefix("archive of \(id): waiting for the replicas to replay") } || contracted.current != nil
        }, "contract's archive copy never waited: \(contractNotes.current)")
        #expect(contracted.current == nil, "contract ended while the replica's replay was paused: \(contractNotes.current)")
        try standby.execute("SELECT pg_wal_replay_resume()")
        #expect(contractWorker.join(timeout: 40), "contract did not end after the replica caught up")
        _ = try #require(contracted.current).get()
        #expect(contractNotes.current.contains { $0.hasPrefix("archive of \(id): the replicas caught up") }, "\(contractNotes.current)")
        #expect(try sql.query("SELECT count(*) AS n FROM bellows_archive.\"\(id)_items\"").first?.int("n") == 30_000)
    }
}
