import BellowsPlan
import Foundation
import PGClient

/// The backfill's walk over the table's key, shared by the backfill's own session and, at
/// full speed, `backfill.workers - 1` helper sessions that walk ranges beside it, each on a
/// thread of its own.
///
/// A single `UPDATE` keeps one core busy; the backfill's batches, alone on the server, need
/// not stop there (issue 22: two sessions walking halves of a 1M-row table took 0.6–0.7× the
/// single `UPDATE`'s time on two cores). Every walker takes the next range at the front in
/// turn — its last key read from the key's index while the others wait, so ranges stay
/// consecutive — and runs it as a batch of its own. Ranges commit in any order; the saved
/// cursor is `WalkFront`'s: never past a range not known to have committed.
///
/// Helpers take ranges only while the backfill says so (`setPace`): at full speed, not paused,
/// throttled or waiting for a replica. A helper whose batch fails gives its range back; after a
/// transient error or a timeout it goes on (up to `retries` in a row), after any other it
/// stops. The backfill's own session walks the ranges given back before the front, with its
/// retries, statement-timeout halving and errors as usual.
final class BackfillWalk: @unchecked Sendable {
    /// One batch: the rows after `after` (nil: from the table's first key) up to `last`,
    /// within range `range` of the front.
    struct Batch: Sendable, Equatable {
        var range: Int
        var after: [String]?
        var last: [String]
        /// The rows between the two keys when the bound was read.
        var scanned: Int
    }

    /// What a helper did: a batch committed (`updated` rows), or its failure (the batch's
    /// range given back, the helper stopped).
    struct HelperReport: Sendable {
        var batch: Batch?
        var updated = 0
        var milliseconds = 0.0
        var failure: String?
        /// The failure stopped the helper (else it goes on with the next range).
        var stopped = true
    }

    /// Runs one batch's transaction on a session and returns the rows it updated.
    typealias Transaction = @Sendable (_ session: Connection, _ batch: Batch, _ cursor: [String]?) throws -> Int

    private let lock = NSLock()
    private var front: WalkFront
    private var frontDone = false
    /// Ranges given back unfinished, in key order.
    private var givenBack: [Int] = []
    private var reports: [HelperReport] = []
    private var helpersMayWalk = false
    private var batchSize = 1
    private var closing = false
    private var helpers: [Helper] = []

    /// Failures in a row after which a helper stops (`backfill.retries`).
    private let retries: Int
    private let bound: (first: String, next: String)
    private let upperBound: [String]
    private let transaction: Transaction

    private final class Helper: @unchecked Sendable {
        let connection: Connection
        var busy = false
        var stopped = false
        let finished = DispatchSemaphore(value: 0)
        init(_ connection: Connection) { self.connection = connection }
    }

    /// A walk from after `cursor` (nil: the table's first key) up to `upperBound`; `bound`
    /// finds a batch's last key (`KeysetSQL.bound`: the first batch's form and the next's).
    init(cursor: [String]?, upperBound: [String], bound: (first: String, next: String), retries: Int, transaction: @escaping Transaction) {
        front = WalkFront(cursor: cursor)
        self.retries = retries
        self.upperBound = upperBound
        self.bound = bound
        self.transaction = transaction
    }

    /// Every key up to here is walked and committed (nil: nothing yet, from the table's start).
    var cursor: [String]? {
        lock.lock(); defer { lock.unlock() }
        return front.cursor
    }

    /// The cursor to save with `batch`'s commit.
    func cursor(afterCommitOf batch: Batch) -> [String]? {
        lock.lock(); defer { lock.unlock() }
        return front.cursor(afterBatchTo: batch.last, in: batch.range)
    }

    /// Whether the front has reached the upper bound (ranges given back may remain).
    var isFrontDone: Bool {
        lock.lock(); defer { lock.unlock() }
        return frontDone
    }

    /// The next batch for the backfill's own session: a part of the first range given back,
    /// else the next range at the front; nil when there is neither. `connection` reads the bound.
    func next(size: Int, connection: Connection) throws -> Batch? {
        lock.lock(); defer { lock.unlock() }
        while let id = givenBack.first {
            guard let range = front.range(id) else {
                givenBack.removeFirst()
                continue
            }
            if let batch = try read(range.id, after: range.start, upTo: range.end, size: size, connection) { return batch }
            // No row left in it (deleted since): walked.
            front.walked(id, to: range.end)
            givenBack.removeFirst()
        }
        return try takeFront(size: size, connection)
    }

    /// Runs `batch`'s transaction on the backfill's own session, saving the cursor it allows.
    func run(_ batch: Batch, on connection: Connection) throws -> Int {
        try transaction(connection, batch, cursor(afterCommitOf: batch))
    }

    /// Whether ranges given back wait for the backfill's own session.
    var hasGivenBack: Bool {
        lock.lock(); defer { lock.unlock() }
        return !givenBack.isEmpty
    }

    /// `batch` committed.
    func walked(_ batch: Batch) {
        lock.lock(); defer { lock.unlock() }
        front.walked(batch.range, to: batch.last)
        if front.range(batch.range) == nil { givenBack.removeAll { $0 == batch.range } }
    }

    /// `batch` did not commit: its range is walked again from where it stands, by the
    /// backfill's own session.
    func giveBack(_ batch: Batch) {
        lock.lock(); defer { lock.unlock() }
        giveBackLocked(batch.range)
    }

    private func giveBackLocked(_ range: Int) {
        guard !givenBack.contains(range) else { return }
        givenBack.append(range)
        givenBack.sort()
    }

    /// Must hold the lock.
    private func takeFront(size: Int, _ connection: Connection) throws -> Batch? {
        guard !frontDone else { return nil }
        let after = front.next
        // The range's id once its bound is known (take is what moves the front).
        guard let found = try read(0, after: after, upTo: upperBound, size: size, connection) else {
            frontDone = true
            return nil
        }
        var batch = found
        batch.range = front.take(upTo: found.last)
        return batch
    }

    /// Reads the last key of a batch of `size` rows after `after`, up to `end`.
    private func read(_ range: Int, after: [String]?, upTo end: [String], size: Int, _ connection: Connection) throws -> Batch? {
        let parameters: [(any PostgresBindable)?] = (after ?? []).map { $0 } + [size] + end.map { $0 }
        guard let row = try connection.query(after == nil ? bound.first : bound.next, parameters).first else { return nil }
        let last = try row.stringArray("last_key")
        // A key after the cursor whose text is the cursor's: its text does not read back as
        // itself, and the walk would read the same batch forever (hostile-m 01).
        if PostgresArray.sameKey(last, after) {
            throw KeyTextSettings.walkCannotPass(last)
        }
        return Batch(range: range, after: after, last: last, scanned: try row.int("scanned"))
    }

    // MARK: helpers

    /// Opens `count` helper sessions (fewer when some cannot be opened or prepared) and starts
    /// their threads; returns the first error, if any.
    /// `prepare` gives each session the backfill's own session settings.
    func openHelpers(_ count: Int, conninfo: String?, prepare: (Connection) throws -> Void) -> String? {
        var problem: String?
        for index in 0..<count {
            let connection: Connection
            do {
                connection = try Connection(conninfo)
                try Engine.prepareSession(connection, applicationName: "bellows backfill walker")
                // The keys pass between the sessions as text, and each computes `up`: both must
                // read and write them under the same settings (the plan's pinned search_path,
                // TimeZone, DateStyle…; hostile-k 00, 01), or a helper's last key means another
                // key to the backfill's own session and `up` gives other values.
                try prepare(connection)
            } catch {
                problem = Self.describe(error)
                break
            }
            let helper = Helper(connection)
            lock.lock()
            helpers.append(helper)
            lock.unlock()
            let thread = Thread { [self] in
                walk(helper)
                helper.finished.signal()
            }
            thread.name = "bellows-walker-\(index + 1)"
            thread.start()
        }
        return problem
    }

    /// The helpers' sessions, which the pacer must not count as the application.
    var helperPIDs: [Int32] {
        lock.lock(); defer { lock.unlock() }
        return helpers.map(\.connection.backendPID)
    }

    /// How many helpers still walk (none stopped by a failure).
    var helperCount: Int {
        lock.lock(); defer { lock.unlock() }
        return helpers.filter { !$0.stopped }.count
    }

    /// Whether helpers may take ranges, and how many rows each.
    func setPace(mayWalk: Bool, batchSize: Int) {
        lock.lock(); defer { lock.unlock() }
        helpersMayWalk = mayWalk
        self.batchSize = batchSize
    }

    /// Whether a helper is in a batch.
    var helpersBusy: Bool {
        lock.lock(); defer { lock.unlock() }
        return helpers.contains { $0.busy }
    }

    /// What the helpers did since the last call.
    func drain() -> [HelperReport] {
        lock.lock(); defer { lock.unlock() }
        defer { reports.removeAll() }
        return reports
    }

    private func walk(_ helper: Helper) {
        var failures = 0
        while true {
            lock.lock()
            if closing {
                lock.unlock()
                return
            }
            guard helpersMayWalk, !frontDone else {
                lock.unlock()
                Thread.sleep(forTimeInterval: 0.01)
                continue
            }
            helper.busy = true
            let size = batchSize
            let batch: Batch?
            do {
                batch = try takeFront(size: size, helper.connection)
            } catch {
                helper.busy = false
                if closing {
                    lock.unlock()
                    return
                }
                // As a failed batch (below): a lock or statement timeout goes on, up to `retries`
                // in a row (hostile-l 03: a role's statement_timeout stopped every helper here).
                failures += 1
                let goesOn = Self.isPassing(error) && failures <= retries && helper.connection.isOpen
                reports.append(HelperReport(failure: Self.describe(error), stopped: !goesOn))
                if !goesOn { helper.stopped = true }
                lock.unlock()
                guard goesOn else { return }
                Thread.sleep(forTimeInterval: 0.05 * Double(failures))
                continue
            }
            lock.unlock()
            guard let batch else {
                lock.lock()
                helper.busy = false
                lock.unlock()
                continue
            }
            let started = Date()
            do {
                let updated = try transaction(helper.connection, batch, nil)
                lock.lock()
                front.walked(batch.range, to: batch.last)
                reports.append(HelperReport(batch: batch, updated: updated, milliseconds: Date().timeIntervalSince(started) * 1000))
                helper.busy = false
                failures = 0
                lock.unlock()
            } catch {
                lock.lock()
                giveBackLocked(batch.range)
                helper.busy = false
                // Cancelled by `close` (a stop, the end of the walk): no failure to report.
                if closing {
                    lock.unlock()
                    return
                }
                // A lock timeout, a deadlock, a statement timeout: the range goes back to the
                // backfill's own session (its retries, its halving) and the helper goes on, up
                // to `retries` failures in a row; anything else stops it.
                failures += 1
                let goesOn = Self.isPassing(error) && failures <= retries && helper.connection.isOpen
                reports.append(HelperReport(batch: batch, failure: Self.describe(error), stopped: !goesOn))
                if !goesOn { helper.stopped = true }
                lock.unlock()
                guard goesOn else { return }
                Thread.sleep(forTimeInterval: 0.05 * Double(failures))
            }
        }
    }

    /// An error another attempt may not meet: a transient one or a cancel (the statement timeout).
    static func isPassing(_ error: any Error) -> Bool {
        guard let error = error as? PostgresError, error.kind != .connection, let state = error.sqlState else { return false }
        return state.isTransient || state == .queryCanceled
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? PostgresError else { return "\(error)" }
        return error.sqlState.map { "\($0.rawValue): \(error.message)" } ?? error.message
    }

    /// Stops the helpers: a batch in progress is cancelled (rolled back, or committed if the
    /// cancel came too late: either way its range is not counted as walked, so the cursor
    /// stays behind it), the threads are waited for and the sessions closed.
    func close() {
        lock.lock()
        closing = true
        let all = helpers
        helpers = []
        let busy = all.filter(\.busy)
        lock.unlock()
        for helper in busy { helper.connection.cancel() }
        for helper in all {
            helper.finished.wait()
            helper.connection.close()
        }
    }
}
