import BellowsPlan
import Foundation

/// Decides how big each backfill batch is and how long to rest after it.
///
/// Alone on the server, the backfill runs at full speed: batches grow towards
/// `target_batch_ms` (200 ms) with no rest, close to the speed of a single `UPDATE`.
/// While other sessions are active it paces itself gently, as gh-ost does with its nice
/// ratio: short batches (`gentle_batch_ms`, 20 ms), each followed by a rest in proportion
/// (`gentle_rest_percent`, 100 % = as long as the batch took). Short batches hold their
/// row locks briefly, and the rests let the application's commits flush the WAL without
/// queueing behind a bulk writer: in `scripts/bench`, the application's p99 went from
/// 5–15× idle at full speed to about 2× gently (docs/benchmarks.md).
///
/// Gentle is not always gentle enough: when the server's WAL cannot keep up (a new WAL
/// segment being created, a slow fsync under writeback), every commit waits behind it, and
/// the backfill's WAL is what the commits have to flush. So while other sessions are seen
/// queued on WAL writes, or blocked by the backfill's row locks, the rest grows (up to
/// `maximumExtraRestPercent` more), and shrinks again over calm batches.
///
/// Pure: the caller measures (server activity, batch durations) and applies the answers.
struct BackfillPacer {
    /// Largest batch, whatever the target: bounds a batch's row locks and its WAL burst.
    static let maximumBatchSize = 50_000
    static let minimumBatchSize = 10
    /// How long no other session must be seen before going back to full speed.
    static let calmSeconds = 2.0
    /// The most rest added while the application waits behind the backfill: 1,500 % of a
    /// 20 ms batch is 300 ms, about 6 % of the time spent writing.
    static let maximumExtraRestPercent = 1500.0
    /// How long it takes the added rest to halve once the application stops waiting.
    static let extraRestHalfLifeSeconds = 2.0

    let settings: BackfillSettings
    let pacing: BackfillPacing
    /// A fixed batch size (`--batch-size`): no adaptive sizing.
    let fixedBatchSize: Int?
    /// An explicit pause between batches (`pause_ms` or its override), added to any rest.
    let pauseMilliseconds: Int

    private(set) var batchSize: Int
    private(set) var isGentle: Bool
    /// Rest added on top of `gentle_rest_percent` because the application waited behind
    /// the backfill (0 when it did not).
    private(set) var extraRestPercent = 0.0
    private var lastActive: Date?
    private var lastObserved: Date?
    /// The last batch's speed, for resizing at a change of pace.
    private var rowsPerMillisecond: Double?
    /// The largest batch from now on, set when one ran into `statement_timeout_ms`: half of it.
    private(set) var ceiling: Int?
    /// The release manager's control (`bellows throttle`), as last read before a batch.
    private(set) var control = BackfillControl()

    init(settings: BackfillSettings, pacing: BackfillPacing? = nil, fixedBatchSize: Int? = nil, pauseMilliseconds: Int? = nil) {
        self.settings = settings
        self.pacing = pacing ?? settings.pacing
        self.fixedBatchSize = fixedBatchSize
        self.pauseMilliseconds = pauseMilliseconds ?? settings.pauseMilliseconds
        batchSize = fixedBatchSize ?? settings.batchSize
        isGentle = self.pacing == .gentle
    }

    /// Whether the pacer needs to know about other sessions at all.
    var watchesSessions: Bool { pacing != .full }

    var targetBatchMilliseconds: Int { isGentle ? settings.gentleBatchMilliseconds : settings.targetBatchMilliseconds }

    /// Takes what the other sessions were doing at `now`; true when the pace changed (full
    /// or gentle, backing off or not). A change to or from full speed resizes the next batch
    /// at once, from the last batch's rate, so that no full-speed batch runs after the
    /// application has been seen.
    mutating func observe(_ activity: ServerActivity, at now: Date) -> Bool {
        guard pacing != .full else { return false }
        let wasBackingOff = isBackingOff
        let elapsed = lastObserved.map { max(0, now.timeIntervalSince($0)) } ?? 0
        lastObserved = now
        if isGentle { adjustExtraRest(strained: activity.isStrained, after: elapsed) }
        let paceChanged = pacing == .adaptive && adaptPace(activeSessions: activity.activeSessions, at: now)
        return paceChanged || isBackingOff != wasBackingOff
    }

    /// Doubles the added rest under strain; otherwise lets it halve every half-life.
    private mutating func adjustExtraRest(strained: Bool, after elapsed: TimeInterval) {
        if strained {
            extraRestPercent = min(Self.maximumExtraRestPercent, max(200, extraRestPercent * 2))
        } else {
            extraRestPercent *= pow(0.5, elapsed / Self.extraRestHalfLifeSeconds)
            if extraRestPercent < 10 { extraRestPercent = 0 }
        }
    }

    /// Full speed or gentle, from when another session was last seen; true on a change.
    private mutating func adaptPace(activeSessions: Int, at now: Date) -> Bool {
        if activeSessions > 0 { lastActive = now }
        let gentle = lastActive.map { now.timeIntervalSince($0) < Self.calmSeconds } ?? false
        guard gentle != isGentle else { return false }
        isGentle = gentle
        if !gentle { extraRestPercent = 0 }
        if fixedBatchSize == nil, let rowsPerMillisecond {
            batchSize = bounded(rowsPerMillisecond * Double(targetBatchMilliseconds))
        }
        return true
    }

    /// Whether the rest is longer than configured because the application waited.
    var isBackingOff: Bool { extraRestPercent > 0 }

    /// Sizes the next batch from the last one (`rows` in `milliseconds`): towards the
    /// target duration, by at most a factor of two, to ride out noise.
    mutating func batchDone(rows: Int, milliseconds: Double) {
        guard rows > 0 else { return }
        rowsPerMillisecond = Double(rows) / max(milliseconds, 1)
        guard fixedBatchSize == nil else { return }
        let factor = min(2.0, max(0.5, Double(targetBatchMilliseconds) / max(milliseconds, 1)))
        batchSize = bounded(Double(batchSize) * factor)
    }

    private func bounded(_ size: Double) -> Int {
        let size = min(Self.maximumBatchSize, max(Self.minimumBatchSize, Int(size)))
        return ceiling.map { min(size, $0) } ?? size
    }

    /// A batch of `nextBatchSize` rows ran into `statement_timeout_ms` (rows too heavy for it):
    /// halves it, also a fixed one, and no later batch grows past the half (below
    /// `minimumBatchSize` if need be). False when the batch was one row: nothing smaller to try.
    mutating func statementTimedOut() -> Bool {
        let size = nextBatchSize
        guard size > 1 else { return false }
        batchSize = size / 2
        ceiling = batchSize
        return true
    }

    /// Takes the control read before a batch; true when it differs from the last one.
    mutating func apply(_ control: BackfillControl) -> Bool {
        let changed = control.paused != self.control.paused || control.maxRowsPerSecond != self.control.maxRowsPerSecond
            || control.batchSize != self.control.batchSize
        self.control = control
        return changed
    }

    /// The size of the next batch: the pacer's, or the throttle's `batch_size`; under a
    /// `max_rows_per_second`, at most one second's worth of rows (the rate stays even); never
    /// past the ceiling a statement timeout set.
    var nextBatchSize: Int {
        var size = control.batchSize ?? batchSize
        if let rate = control.maxRowsPerSecond { size = min(size, rate) }
        if let ceiling { size = min(size, ceiling) }
        return max(1, size)
    }

    /// How long to wait after a batch of `rows` rows that took `milliseconds`: the pace's rest
    /// and pause, or longer under a `max_rows_per_second`, so that the batch and its rest
    /// together take at least `rows / max_rows_per_second`.
    func restMilliseconds(afterBatchOf milliseconds: Double, rows: Int = 0) -> Double {
        let rest = (isGentle ? milliseconds * restPercent / 100 : 0) + Double(pauseMilliseconds)
        guard let rate = control.maxRowsPerSecond, rate > 0 else { return rest }
        return max(rest, Double(rows) * 1000 / Double(rate) - milliseconds)
    }

    private var restPercent: Double { Double(settings.gentleRestPercent) + extraRestPercent }

    /// What the progress line says about the pace.
    var description: String {
        guard isGentle else { return "full" }
        let backingOff = isBackingOff ? ", backing off" : ""
        return "gentle (\(settings.gentleBatchMilliseconds) ms batches, rest \(Int(restPercent.rounded())) %\(backingOff))"
    }
}

/// What the server's other client sessions were doing when the backfill looked, before a batch.
struct ServerActivity {
    /// Running something, or active in the last second.
    var activeSessions: Int
    /// Those of them connected to the backfill's own database (what a test can attribute).
    var activeInDatabase = 0
    /// Waiting for a lock that the backfill's session holds.
    var blockedByBackfill = 0
    /// Queued for the WAL write lock: someone else is writing or flushing the WAL.
    var waitingForWALWrite = 0
    /// Creating a new WAL segment (zero-filling and syncing 16 MB), with every commit behind it.
    var creatingWALSegment = 0

    /// The application is waiting behind the backfill's writes: for its row locks, in a
    /// queue for the WAL (one session waiting for another's flush is ordinary), or behind
    /// the creation of a WAL segment.
    var isStrained: Bool { blockedByBackfill > 0 || waitingForWALWrite >= 2 || creatingWALSegment > 0 }

    /// Why the backfill is backing off, for the progress report.
    var strainDescription: String {
        var reasons: [String] = []
        if blockedByBackfill > 0 { reasons.append("\(blockedByBackfill) blocked by the backfill's row locks") }
        if waitingForWALWrite > 0 { reasons.append("\(waitingForWALWrite) waiting to write the WAL") }
        if creatingWALSegment > 0 { reasons.append("\(creatingWALSegment) creating a WAL segment") }
        return reasons.isEmpty ? "none waiting" : reasons.joined(separator: ", ")
    }
}
