import BellowsPlan
import Foundation

/// Backfill progress, reported after every batch.
public struct BackfillProgress: Sendable, Hashable {
    public var plan: String
    /// Rows the keyset walk has passed (this run and earlier runs).
    public var rowsScanned: Int
    /// Rows the backfill changed (the rest were already up to date).
    public var rowsUpdated: Int
    /// The rows up to the backfill's upper bound, where its walk ends: the planner's estimate
    /// of the table's rows when the backfill starts, counted exactly when it resumes.
    public var estimatedTotal: Int
    public var rowsPerSecond: Double
    public var etaSeconds: Double?
    public var batchSize: Int
    public var lastBatchMilliseconds: Double
    /// Why the backfill is waiting, when it is.
    public var throttled: String?
    /// `full` or `gentle (…)`: see `BackfillPacer`.
    public var pace: String? = nil
    /// Other sessions seen active before the batch (adaptive pacing only).
    public var activeSessions: Int? = nil
    public var tableBytes: Int
    public var tableBytesAtStart: Int
    /// A release manager's throttle or pause in force (`BackfillControl.summary`).
    public var control: String? = nil
    /// The `VACUUM`s this run of the backfill has made of the table (`vacuum_every_rows`; one
    /// skipped because autovacuum held the table is not counted).
    public var vacuums: Int = 0
    /// The walk has reached its bound: the run's last progress, counted against the rows walked.
    public var walkDone = false

    public var fraction: Double {
        walkDone ? 1 : estimatedTotal > 0 ? min(1, Double(rowsScanned) / Double(estimatedTotal)) : 0
    }
}

/// What the engine tells its caller while it works. The CLI decides how it looks.
public enum EngineNote: Sendable {
    case step(plan: String, command: PhaseCommand, purpose: String, sql: String)
    case lockWait(attempt: Int, of: Int, retryInMilliseconds: Int, blockers: [Blocker])
    case backfill(BackfillProgress)
    case info(String)
    /// A hook of `bellows.yaml` ran (`HookRun`).
    case hook(HookRun)
}

public typealias Reporter = @Sendable (EngineNote) -> Void

/// The result of a phase command that ran.
public struct PhaseOutcome: Sendable {
    public var plan: String
    public var command: PhaseCommand
    public var from: Phase
    public var to: Phase
    public var milliseconds: Double
    public var details: [String: JSONValue]
    /// The hooks that ran for it (`before` and `after`), in order.
    public var hooks: [HookRun] = []
}
