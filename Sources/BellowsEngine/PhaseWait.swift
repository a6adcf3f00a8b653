import BellowsPlan
import Foundation
import PGClient

/// How `bellows wait` ended.
public enum WaitResult: String, Sendable, Codable, Hashable {
    /// The plan is in the phase waited for, or past it on the forward path.
    case reached
    case timeout
    /// The plan went where it can no longer reach the phase (rolled back while waited for).
    case movedAway = "moved-away"
}

/// What `bellows wait` saw (its `--format json` document).
public struct WaitOutcome: Sendable, Codable, Hashable {
    public var plan: String
    public var waitedFor: Phase
    /// The plan's phase when the wait ended.
    public var phase: Phase
    public var result: WaitResult
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case plan, waitedFor = "waited_for", phase, result, seconds
    }

    /// Whether a wait for `target` ends at `phase` (pure). `initial` is the phase when the wait
    /// began: a plan already rolled back may be expanded again, one rolled back meanwhile moved away.
    public static func verdict(target: Phase, phase: Phase, initial: Phase) -> WaitResult? {
        if phase == target { return .reached }
        switch (target, phase) {
        case (.rolledBack, .contracted): return .movedAway
        case (.rolledBack, _), (.planned, _): return nil
        case (_, .rolledBack): return initial == .rolledBack ? nil : .movedAway
        default: return phase.rank >= target.rank ? .reached : nil
        }
    }
}

extension Engine {
    /// `bellows wait`: reads the plan's phase every `pollSeconds` until the verdict is in or
    /// `timeoutSeconds` have passed. Reads only (never creates the `bellows` schema: on a
    /// database without it the plan is planned until some command creates it).
    public func wait(plan reference: String, for target: Phase, timeoutSeconds: Double?, pollSeconds: Double = 1) throws -> WaitOutcome {
        let started = Date()
        let (connection, _) = try connectForReading()
        defer { connection.close() }
        do {
            let id = try controlledPlanID(reference, connection: connection, stateKnown: StateStore.exists(connection))
            func phase() throws -> Phase {
                guard try StateStore.exists(connection) else { return .planned }
                return try StateStore.plan(connection, id: id)?.phase ?? .planned
            }
            let initial = try phase()
            var now = initial
            while true {
                let seconds = Date().timeIntervalSince(started)
                if let result = WaitOutcome.verdict(target: target, phase: now, initial: initial) {
                    return WaitOutcome(plan: id, waitedFor: target, phase: now, result: result, seconds: seconds)
                }
                if let timeoutSeconds, seconds >= timeoutSeconds {
                    return WaitOutcome(plan: id, waitedFor: target, phase: now, result: .timeout, seconds: seconds)
                }
                let left = timeoutSeconds.map { max(0, $0 - seconds) } ?? pollSeconds
                Thread.sleep(forTimeInterval: min(pollSeconds, left))
                now = try phase()
            }
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }
}
