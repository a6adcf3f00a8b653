import Foundation
import PGClient

/// Runs the backfill's `VACUUM`s on a connection of their own, beside the batches.
///
/// Run inline, each `VACUUM` stopped the walk for as long as it took: 10–15 % of a full-speed
/// backfill's wall time on the bench's table (issue 22), while the server had a core to spare.
/// Beside the walk it costs the walk next to nothing. One runs at a time: while the last one
/// runs, the next is started at the first batch after it ended (the walk never waits for one,
/// so neither does a stop or a pause); the backfill waits for one still running when its walk
/// ends, unless a stop is asked for, which cancels it.
///
/// Only at full speed, alone on the server: beside the application (the gentle pace) the
/// backfill runs its VACUUMs inline, between batches, so that while one runs the application
/// has the server to itself. (Run 17 of scripts/bench, with the VACUUMs beside gentle batches,
/// measured the application's p99 at 1.30-2.78x idle during a 5M-row backfill, against 1.57x
/// with them inline at 1M in run 16: not separated, so the measured inline way is kept there.)
///
/// The session is a client backend like any other: the pacer must not count it as the
/// application (``pid``).
final class BackgroundVacuum: @unchecked Sendable {
    /// How one `VACUUM` ended.
    enum Outcome: Equatable {
        case done
        /// Another vacuum (autovacuum) held the table: `SKIP_LOCKED` skipped it.
        case skippedLocked
        /// It warned and did nothing (a role that may not vacuum the table): the message.
        case refused(String)
        /// It failed (the connection dropped, a cancel): the message.
        case failed(String)

        /// How a `VACUUM (…, SKIP_LOCKED)` ended, from the notices it raised.
        static func of(_ notices: [PostgresNotice]) -> Outcome {
            if notices.contains(where: { $0.sqlState == .lockNotAvailable }) { return .skippedLocked }
            if let warning = notices.first(where: { $0.severity == "WARNING" }) { return .refused(warning.message) }
            return .done
        }
    }

    /// The statement: without index cleanup (a third of the cost; autovacuum does it later) and
    /// without truncation, which would take an ACCESS EXCLUSIVE lock. When autovacuum is already
    /// at the table, waiting for its lock would stall the run until the deadlock check cancels
    /// autovacuum (`deadlock_timeout`, 1 s by default): `SKIP_LOCKED` leaves the table to it.
    static func statement(_ table: String) -> String { "VACUUM (INDEX_CLEANUP OFF, TRUNCATE OFF, SKIP_LOCKED) \(table)" }

    /// Runs one VACUUM on `session` (the backfill's own when no second one could be opened),
    /// with its `statement_timeout` lifted: a role's or database's would cancel every VACUUM of
    /// a large table (hostile-i 02); Bellows cancels it itself when the backfill stops. A
    /// failure is an outcome, never swallowed (hostile-i 01). The session's own timeout is put
    /// back after it (the backfill's session walks under the plan's).
    static func run(_ session: Connection, table: String) -> Outcome {
        _ = session.takeNotices()
        do {
            let was = try session.query("SELECT current_setting('statement_timeout') AS was").first?.string("was") ?? "0"
            try session.execute("SET statement_timeout = 0")
            defer { _ = try? session.query("SELECT set_config('statement_timeout', $1, false)", [was]) }
            try session.execute(statement(table))
            return Outcome.of(session.takeNotices())
        } catch {
            return .failed(error.message)
        }
    }

    private let conninfo: String?
    private let table: String
    private let lock = NSLock()
    private var connection: Connection?
    private var running: DispatchSemaphore?
    private var outcome: Outcome?

    init(conninfo: String?, table: String) {
        self.conninfo = conninfo
        self.table = table
    }

    /// The session's backend process id, once connected.
    var pid: Int32? {
        lock.lock(); defer { lock.unlock() }
        return connection.map(\.backendPID)
    }

    /// Whether a run is in progress (started and not yet waited for).
    var isRunning: Bool {
        lock.lock(); defer { lock.unlock() }
        return running != nil && outcome == nil
    }

    /// Starts a run; false when no connection could be opened (the caller vacuums inline).
    /// Call only when none is in progress (``isRunning``; ``poll()`` takes the last outcome).
    func start() -> Bool {
        lock.lock()
        let current = connection
        lock.unlock()
        let session: Connection
        if let current, current.isOpen {
            session = current
        } else {
            current?.close()
            guard let fresh = try? Connection(conninfo) else { return false }
            try? Engine.prepareSession(fresh, applicationName: "bellows vacuum")
            session = fresh
        }
        let finished = DispatchSemaphore(value: 0)
        lock.lock()
        connection = session
        running = finished
        outcome = nil
        lock.unlock()
        let table = self.table
        let thread = Thread { [self] in
            let result = Self.run(session, table: table)
            lock.lock()
            outcome = result
            lock.unlock()
            finished.signal()
        }
        thread.name = "bellows-vacuum"
        thread.start()
        return true
    }

    /// The outcome of the run in progress once it has ended, nil while it runs or when none was started.
    func poll() -> Outcome? {
        lock.lock(); defer { lock.unlock() }
        guard running != nil, let outcome else { return nil }
        running = nil
        return outcome
    }

    /// Cancels a run in progress (the backfill stops or fails), waits for its thread and
    /// closes the session.
    func close() {
        lock.lock()
        let session = connection, finished = running, inProgress = running != nil && outcome == nil
        connection = nil
        running = nil
        lock.unlock()
        if inProgress { session?.cancel() }
        finished?.wait()
        session?.close()
    }
}
