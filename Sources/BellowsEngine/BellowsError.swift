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

extension BellowsError {
    /// A statement refused because the session is read-only (`25006`) says why, when the server
    /// gave no hint (hostile-m 06: a role with `default_transaction_read_only = on` got a bare
    /// `25006`): the server is a standby, or the role's or database's default makes every
    /// transaction read-only. Any other error is returned as it is.
    func explainingReadOnly(_ session: Connection) -> BellowsError {
        switch self {
        case .failed(let plan, let command, let purpose, let error):
            guard let hinted = Self.readOnlyHint(error, session) else { return self }
            return .failed(plan: plan, command: command, purpose: purpose, error: hinted)
        case .database(let error):
            return Self.readOnlyHint(error, session).map(BellowsError.database) ?? self
        default:
            return self
        }
    }

    private static func readOnlyHint(_ error: PostgresError, _ session: Connection) -> PostgresError? {
        guard error.sqlState == SQLState("25006"), error.hint == nil, session.isOpen else { return nil }
        if session.inTransaction { _ = try? session.execute("ROLLBACK") }
        guard let row = try? session.query("""
            SELECT pg_is_in_recovery() AS recovery, current_setting('default_transaction_read_only') = 'on' AS by_default, current_user::text AS role,
                   current_database()::text AS db, (SELECT source FROM pg_settings WHERE name = 'default_transaction_read_only') AS source
            """).first else { return nil }
        var hinted = error
        if (try? row.bool("recovery")) == true {
            hinted.hint = "the server is a standby (in recovery), where every transaction is read-only: connect Bellows to the primary"
        } else if (try? row.bool("by_default")) == true {
            let role = SQLQuote.identifier((try? row.string("role")) ?? "the role")
            let db = SQLQuote.identifier((try? row.string("db")) ?? "the database")
            // Where the setting comes from (pg_settings.source), and so what undoes it.
            let undo: String
            switch (try? row.string("source")) ?? "" {
            case "user": undo = "set for role \(role): ALTER ROLE \(role) RESET default_transaction_read_only"
            case "database": undo = "set for database \(db): ALTER DATABASE \(db) RESET default_transaction_read_only"
            case "database user": undo = "set for role \(role) in database \(db): ALTER ROLE \(role) IN DATABASE \(db) RESET default_transaction_read_only"
            case "client": undo = "set by the connection (PGOPTIONS or the options of the connection string): leave it out"
            case "global": undo = "set for every role: ALTER ROLE ALL RESET default_transaction_read_only"
            case "configuration file": undo = "set for the whole server, in postgresql.conf or by ALTER SYSTEM: ALTER SYSTEM RESET default_transaction_read_only "
                + "or edit the file, then SELECT pg_reload_conf()"
            case "command line": undo = "set for the whole server on its command line"
            default: undo = "set with SET in this session"
            }
            hinted.hint = "this session is read-only by default (default_transaction_read_only = on, \(undo)); Bellows writes its state and the table's changes"
        } else {
            return nil
        }
        return hinted
    }
}
