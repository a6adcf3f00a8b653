import Foundation
import PGClient

/// A stop was requested (SIGINT/SIGTERM) between two steps of a phase.
struct StopRequested: Error {}

/// Watches for a stop request while a phase runs, and cancels the statement running on the
/// phase's connection once, when the request comes: a DDL transaction waiting for a lock, an
/// index build waiting for old snapshots or a verify scan ends at once, and rolls back. The
/// phase's own cleanup after that runs uncancelled. Polls a flag every 50 ms: no I/O.
final class StopWatcher: @unchecked Sendable {
    private let lock = NSLock()
    private var finished = false
    private let done = DispatchSemaphore(value: 0)

    init(connection: Connection, shouldStop: @escaping @Sendable () -> Bool) {
        let thread = Thread { [self] in
            defer { done.signal() }
            while !isFinished {
                if shouldStop() {
                    connection.cancel()
                    return
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        thread.name = "bellows-stop-watcher"
        thread.start()
    }

    private var isFinished: Bool {
        lock.lock(); defer { lock.unlock() }
        return finished
    }

    /// Ends the watch; returns once the watcher thread has (it never touches the connection after).
    func finish() {
        lock.lock()
        finished = true
        lock.unlock()
        done.wait()
    }
}

/// While a concurrent index build runs, reports every `interval` which sessions it waits for
/// (another session's open transaction whose snapshot is older than the build, a lock), from
/// a connection of its own; the last sessions seen name the culprit if the build times out.
final class IndexWaitMonitor: @unchecked Sendable {
    private let lock = NSLock()
    private var finished = false
    private var seen: [Blocker] = []
    private let done = DispatchSemaphore(value: 0)

    init(conninfo: String?, pid: Int32, index: String, interval: Double, report: @escaping Reporter) {
        let started = Date()
        let thread = Thread { [self] in
            defer { done.signal() }
            guard let monitor = try? Connection(conninfo) else { return }
            defer { monitor.close() }
            _ = try? monitor.execute("SET application_name = 'bellows monitor'")
            while waitUntilNextReport(interval) {
                let blockers = Self.blockers(monitor, of: pid)
                guard !blockers.isEmpty else { continue }
                record(blockers)
                let waited = String(format: "%.0f s", Date().timeIntervalSince(started))
                report(.info("index \(index) has waited \(waited) for " + blockers.map(\.description).joined(separator: "; ")
                             + ": the build cannot finish until that transaction ends (end it, or stop Bellows and resume later)"))
            }
        }
        thread.name = "bellows-index-monitor"
        thread.start()
    }

    /// The sessions the build waited for at the last look, longest-open first.
    var lastBlockers: [Blocker] {
        lock.lock(); defer { lock.unlock() }
        return seen
    }

    private func record(_ blockers: [Blocker]) {
        lock.lock(); defer { lock.unlock() }
        seen = blockers
    }

    /// Sleeps `interval` in short steps; false once finished.
    private func waitUntilNextReport(_ interval: Double) -> Bool {
        let until = Date().addingTimeInterval(interval)
        while Date() < until {
            lock.lock()
            let stop = finished
            lock.unlock()
            if stop { return false }
            Thread.sleep(forTimeInterval: min(0.05, interval))
        }
        return true
    }

    func finish() {
        lock.lock()
        finished = true
        lock.unlock()
        done.wait()
    }

    /// The sessions `pid` waits for: for a concurrent index build, transactions older than it
    /// (it waits on each one's virtual transaction id) or holders of a lock it needs.
    static func blockers(_ connection: Connection, of pid: Int32) -> [Blocker] {
        let rows = try? connection.query("""
            SELECT a.pid, a.usename, a.application_name, a.state, left(a.query, 300) AS query,
                   extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS age,
                   CASE WHEN w.wait_event = 'virtualxid' THEN 'a snapshot older than the index build'
                        ELSE coalesce((SELECT string_agg(DISTINCT l.mode, ', ') FROM pg_locks l WHERE l.pid = a.pid AND l.granted), '?') END AS modes
            FROM pg_stat_activity a, pg_stat_activity w
            WHERE w.pid = $1 AND a.pid = ANY (pg_blocking_pids($1))
            ORDER BY age DESC NULLS LAST
            """, [Int(pid)])
        return (rows ?? []).compactMap { row in
            guard let pid = try? row.int("pid") else { return nil }
            return Blocker(pid: pid, user: try? row.optionalString("usename"), application: try? row.optionalString("application_name"),
                           state: try? row.optionalString("state"), query: try? row.optionalString("query"),
                           transactionAgeSeconds: try? row.optionalDouble("age"), lockMode: (try? row.optionalString("modes")) ?? "?")
        } + Blocker.preparedTransactions(connection, waiting: pid)
    }
}
