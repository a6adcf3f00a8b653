import BellowsPlan
import BellowsSQL
import PGClient

/// One reason a phase may not run now, with what would satisfy it.
public struct GateFailure: Sendable, Hashable, Codable {
    /// A stable name: `phase`, `dependency`, `conflict`, `checksum`, `trigger`, `backfill`,
    /// `verification-age`, `gate:<name>`, `mismatch:<change>`, `check:<name>`, `constraint`, `index`, `plan`, `lock`,
    /// `plan-changed` (the file means another transition than the text expanded), `plan-file` (the file is gone).
    public var gate: String
    public var message: String
    public var remedy: String?

    public init(gate: String, message: String, remedy: String? = nil) {
        self.gate = gate
        self.message = message
        self.remedy = remedy
    }
}

/// A command that was not run because a gate is closed. The database and the state are as before.
public struct Refusal: Sendable, Hashable {
    public var plan: String
    public var command: PhaseCommand
    public var phase: Phase
    public var failures: [GateFailure]
}

public enum BellowsError: Error, Sendable, CustomStringConvertible {
    case refused(Refusal)
    /// A statement failed; the phase's transaction was rolled back.
    case failed(plan: String, command: PhaseCommand, purpose: String, error: PostgresError)
    case planInvalid([Finding])
    /// The backfill was stopped on request after a committed batch.
    case interrupted(plan: String, rowsDone: Int, resume: String)
    /// A phase was stopped by a signal or lost its connection; what it had not committed was
    /// rolled back (an interrupted expand resumes its index builds), the same command resumes.
    case stopped(plan: String, command: PhaseCommand, reason: String, resume: String)
    case usage(String)
    case database(PostgresError)
    /// No session: libpq could not connect (host, port, authentication, database name). Nothing
    /// was read or changed.
    case cannotConnect(PostgresError)

    /// Where a connection's settings come from, for the message of `cannotConnect`.
    public static let connectionHint = "say which database with -d/--database (a libpq URI or key=value string) or BELLOWS_DATABASE; "
        + "without them libpq uses PGHOST, PGPORT, PGUSER and PGDATABASE (or PGSERVICE), and the password from PGPASSWORD or ~/.pgpass (PGPASSFILE)"

    public var description: String {
        switch self {
        case .refused(let r):
            return "\(r.command.rawValue) refused for plan \(r.plan) (phase \(r.phase.rawValue)):\n"
                + r.failures.map { "  - [\($0.gate)] \($0.message)" + ($0.remedy.map { "\n    → \($0)" } ?? "") }.joined(separator: "\n")
        case .failed(let plan, let command, let purpose, let error):
            return "\(command.rawValue) failed for plan \(plan) while trying to \(purpose); nothing of this step remains:\n\(error)"
        case .planInvalid(let findings):
            return findings.sortedForReading().map(\.description).joined(separator: "\n")
        case .interrupted(let plan, let rows, let resume):
            return "backfill of \(plan) stopped after a committed batch (\(rows) rows so far); resume with: \(resume)"
        case .stopped(let plan, let command, let reason, let resume):
            return "\(command.rawValue) of \(plan) stopped (\(reason)); nothing uncommitted remains; resume with: \(resume)"
        case .usage(let message):
            return message
        case .database(let error):
            return error.description
        case .cannotConnect(let error):
            return "\(error.message)\n  hint: \(Self.connectionHint)"
        }
    }
}

extension BellowsError {
    /// Opens a command's connection: a failure to connect is `cannotConnect` (the CLI's own exit
    /// code, with where the settings come from), not a failed statement.
    static func connect(_ conninfo: String?) throws -> Connection {
        do {
            return try Connection(conninfo)
        } catch {
            throw BellowsError.cannotConnect(error)
        }
    }
}
