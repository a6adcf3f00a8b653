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
/// Pure: the caller measures (active sessions, batch durations) and applies the answers.
struct BackfillPacer {
    /// Largest batch, whatever the target: bounds a batch's row locks and its WAL burst.
    static let maximumBatchSize = 50_000
    static let minimumBatchSize = 10
    /// How long no other session must be seen before going back to full speed.
    static let calmSeconds = 2.0

    let settings: BackfillSettings
    let pacing: BackfillPacing
    /// A fixed batch size (`--batch-size`): no adaptive sizing.
    let fixedBatchSize: Int?
    /// An explicit pause between batches (`pause_ms` or its override), added to any rest.
    let pauseMilliseconds: Int

    private(set) var batchSize: Int
    private(set) var isGentle: Bool
    private var lastActive: Date?
    /// The last batch's speed, for resizing at a change of pace.
    private var rowsPerMillisecond: Double?

    init(settings: BackfillSettings, pacing: BackfillPacing? = nil, fixedBatchSize: Int? = nil, pauseMilliseconds: Int? = nil) {
        self.settings = settings
        self.pacing = pacing ?? settings.pacing
        self.fixedBatchSize = fixedBatchSize
        self.pauseMilliseconds = pauseMilliseconds ?? settings.pauseMilliseconds
        batchSize = fixedBatchSize ?? settings.batchSize
        isGentle = self.pacing == .gentle
    }

    /// Whether the pacer needs to know about other sessions at all.
    var watchesSessions: Bool { pacing == .adaptive }

    var targetBatchMilliseconds: Int { isGentle ? settings.gentleBatchMilliseconds : settings.targetBatchMilliseconds }

    /// Takes the number of other active sessions, seen at `now`; true when the pace changed.
    /// A change resizes the next batch at once, from the last batch's rate, so that no
    /// full-speed batch runs after the application has been seen.
    mutating func observe(activeSessions: Int, at now: Date) -> Bool {
        guard pacing == .adaptive else { return false }
        if activeSessions > 0 { lastActive = now }
        let gentle = lastActive.map { now.timeIntervalSince($0) < Self.calmSeconds } ?? false
        guard gentle != isGentle else { return false }
        isGentle = gentle
        if fixedBatchSize == nil, let rowsPerMillisecond {
            batchSize = bounded(rowsPerMillisecond * Double(targetBatchMilliseconds))
        }
        return true
    }

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
        min(Self.maximumBatchSize, max(Self.minimumBatchSize, Int(size)))
    }

    /// How long to wait after a batch that took `milliseconds`.
    func restMilliseconds(afterBatchOf milliseconds: Double) -> Double {
        let rest = isGentle ? milliseconds * Double(settings.gentleRestPercent) / 100 : 0
        return rest + Double(pauseMilliseconds)
    }

    /// What the progress line says about the pace.
    var description: String {
        isGentle
            ? "gentle (\(settings.gentleBatchMilliseconds) ms batches, rest \(settings.gentleRestPercent) %)"
            : "full"
    }
}
