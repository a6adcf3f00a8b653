import BellowsSQL
import Foundation
import PGClient

/// Settings of the SQL migration runner.
public struct MigrationOptions: Sendable {
    /// libpq conninfo or URI; nil = the `PG*` environment.
    public var conninfo: String?
    /// Who applies migrations, for the ledger and the audit log.
    public var actor: String
    /// `lock_timeout` of the runner's session: a statement that waits longer for a lock fails
    /// with SQLSTATE 55P03 instead of queueing the application behind it, and is retried.
    public var lockTimeoutMilliseconds: Int = 2000
    /// Retries after a lock timeout (or a deadlock) before the migration fails.
    public var lockRetries: Int = 5
    /// First back-off delay between lock retries (doubled each time, jittered).
    public var retryDelayMilliseconds: Int = 200
    /// How long to wait for another `bellows migrate` that holds the migration lock.
    public var runnerLockWaitMilliseconds: Int = 60_000
    /// Cancels the running statement when triggered (the CLI triggers it on SIGINT/SIGTERM).
    public var interrupt: MigrationInterrupt?
    /// What to do with a statement an interrupted run started and may not have finished,
    /// when the runner cannot tell by itself; nil refuses to guess.
    public var startedStatement: StartedStatementResolution?
    /// `client_connection_check_interval` of the runner's session (PostgreSQL 14+): how soon
    /// the server ends the statement of a runner that was killed.
    public var clientCheckIntervalMilliseconds: Int = 500
    /// Refuse a run when a pending file has a lint finding of error severity (not suppressed by
    /// a `-- bellows:ignore RULE` comment). The CLI sets it unless `--allow-lint-errors`; when
    /// off, the findings are notes of the plan.
    public var refuseLintErrors = false

    public init(conninfo: String? = nil, actor: String = EngineOptions.defaultActor) {
        self.conninfo = conninfo
        self.actor = actor
    }

    /// The connection, actor and lock settings of the phase engine's options.
    public init(_ engine: EngineOptions) {
        self.init(conninfo: engine.conninfo, actor: engine.actor)
        if let timeout = engine.lockTimeoutMilliseconds { lockTimeoutMilliseconds = timeout }
        if let retries = engine.ddlRetries { lockRetries = retries }
    }

    var lockPolicy: LockPolicy {
        var policy = LockPolicy(lockTimeoutMilliseconds: lockTimeoutMilliseconds, statementTimeoutMilliseconds: 0, retries: lockRetries)
        policy.baseDelayMilliseconds = max(1, retryDelayMilliseconds)
        return policy
    }
}

/// How to resume a statement that an interrupted run started and may or may not have
/// finished (the runner could not tell): `done` records it as applied, `rerun` runs it again.
public enum StartedStatementResolution: String, Sendable, CaseIterable {
    case done, rerun
}

/// Cancels the statement a runner is running, from any thread (a signal handler's queue).
/// Once triggered, the runner stops at the next statement boundary and throws
/// ``MigrationInterrupted``.
public final class MigrationInterrupt: @unchecked Sendable {
    private let lock = NSLock()
    private var triggered = false
    private var connection: Connection?

    public init() {}

    /// Asks the server to cancel the running statement, and the runner to stop.
    public func trigger() {
        lock.lock(); defer { lock.unlock() }
        triggered = true
        connection?.cancel()
    }

    public var isTriggered: Bool {
        lock.lock(); defer { lock.unlock() }
        return triggered
    }

    /// The connection whose statement `trigger()` cancels (nil before it is closed).
    func attach(_ connection: Connection?) {
        lock.lock(); defer { lock.unlock() }
        self.connection = connection
        if triggered { connection?.cancel() }
    }
}

/// The run was interrupted (SIGINT/SIGTERM): the running statement was cancelled.
public struct MigrationInterrupted: Error, Sendable, CustomStringConvertible {
    public var migration: String?
    /// What remains of it, and how to go on.
    public var state: String

    public var description: String {
        "interrupted" + (migration.map { " during \($0)" } ?? "") + ": \(state); run `bellows migrate` again to resume"
    }
}

/// One statement of a migration file as the runner sends it.
public struct MigrationStatement: Sendable, Hashable {
    /// 0-based index among the file's statements without its own BEGIN/COMMIT.
    public var index: Int
    /// Where the statement starts in the file (1-based; columns count Unicode scalars).
    public var line: Int
    public var column: Int
    public var sql: String
    /// In a non-transactional file: the number of the file's explicit BEGIN … COMMIT block
    /// the statement is in (statements of one block run in one transaction). In a
    /// transactional file: 1 when the file starts with its own BEGIN.
    public var block: Int?
    /// The file's own `BEGIN …` statement that opens the block, options included.
    public var opening: String?
}

/// A migration file that `bellows migrate` would apply (or resume).
public struct PendingMigration: Sendable {
    public var name: String
    public var number: Int?
    public var path: String
    public var checksum: String
    public var description: String?
    public var dependencies: [String]
    /// `true`: the file and its ledger row commit in one transaction.
    public var transactional: Bool
    /// Why the file runs outside a transaction, when it does.
    public var nonTransactionalReason: String?
    /// The file has its own BEGIN/COMMIT: in a transactional file they open and close the
    /// runner's transaction; in a non-transactional one each block runs as one transaction.
    public var ownTransactionControl: Bool
    public var statements: [MigrationStatement]
    /// Indexes of statements of a non-transactional file already applied by an earlier,
    /// interrupted run; they are skipped (except `SET`/`RESET`, which are re-run).
    public var completedStatements: Set<Int>
    /// Applied migrations with a higher number exist: this file runs out of order.
    public var outOfOrder: Bool
    /// A statement that cannot run in a transaction, which an interrupted run started and
    /// may or may not have finished: checked (or resolved by `--started`) before going on.
    public var startedStatement: Int?
}

/// An applied file whose content no longer matches the checksum in the ledger.
public struct DriftedMigration: Sendable, Hashable {
    public var name: String
    public var path: String
    public var recordedChecksum: String
    public var currentChecksum: String
    /// `true` for a non-transactional file that was only partly applied when it changed.
    public var partial: Bool
}

/// One reason `bellows migrate` (or a rollback) does not run: the database is unchanged.
public struct MigrationProblem: Sendable, Hashable {
    /// `drift`, `dependency`, `order`, `name`, `lock`, `dependents`, `rollback-file`.
    public var gate: String
    public var migration: String
    public var message: String
    public var remedy: String?

    public init(gate: String, migration: String, message: String, remedy: String? = nil) {
        self.gate = gate
        self.migration = migration
        self.message = message
        self.remedy = remedy
    }
}

/// What `bellows migrate` would do now.
public struct MigrationPlan: Sendable {
    /// Files to apply, in order.
    public var pending: [PendingMigration]
    /// Drifted files that `--accept-drift` names: their new checksum would be recorded.
    public var acceptedDrift: [DriftedMigration]
    /// Reasons to refuse; when not empty, nothing runs.
    public var problems: [MigrationProblem]
    /// Notes that do not stop the run (out-of-order files, `--accept-drift` of an unchanged file).
    public var notes: [String]
    /// Files already applied.
    public var appliedCount: Int
    /// Applied files found under a new name (same number and checksum): the ledger takes the new name.
    public var renamed: [MigrationRename]
    /// The first pending file that depends on a plan not contracted yet: the run applies the
    /// files before it and stops there.
    public var waitingForPlan: PlanWait? = nil
}

/// A pending migration whose `-- Dependencies: plan:ID` is not contracted yet.
public struct PlanWait: Sendable, Hashable {
    public var migration: String
    public var plan: String
    /// The plan's phase now (`planned` when it never ran).
    public var phase: String

    public var message: String {
        "\(migration) depends on plan \(plan), which must be contracted before it; it is \(phase)"
    }
    public var remedy: String {
        "`bellows advance \(plan) --through contract`, then `bellows migrate` applies \(migration) and the files after it"
    }
}

/// `migrate` applied the files before one that waits for a plan, and stopped there (exit 1):
/// not a failure, the order the project asks for.
public struct MigrationWaitingForPlan: Error, CustomStringConvertible {
    public var wait: PlanWait
    /// The files this run applied before it stopped.
    public var applied: [AppliedMigration]

    public var description: String {
        "migrate stopped before \(wait.migration) (\(applied.count) migration(s) applied before it): \(wait.message)\n  → \(wait.remedy)"
    }
}

/// An applied migration whose file was renamed without a change: same number, same checksum.
public struct MigrationRename: Sendable, Hashable {
    public var from: String
    public var to: String
    public var checksum: String
}

/// A migration the runner applied (or, in a dry run, would apply).
public struct AppliedMigration: Sendable, Hashable {
    public var name: String
    public var checksum: String
    public var transactional: Bool
    public var milliseconds: Double
    /// Statements run by this run.
    public var statementsRun: Int
    /// Statements skipped because an interrupted run had applied them.
    public var statementsResumed: Int
    public var dryRun: Bool
}

/// Where a migration file stands against the ledger.
public enum MigrationState: String, Sendable, Hashable, Codable {
    case applied
    case pending
    /// Applied, but the file changed since.
    case drifted
    /// A non-transactional file an interrupted run applied part of.
    case partial
    /// A ledger row whose file is no longer in `migrations/`.
    case missingFile = "missing-file"
    /// Applied under another name (same number and checksum); `migrate` records the new name.
    case renamed
    /// The runner refuses the file (a NUL byte, a ROLLBACK, not UTF-8…): see `problem`.
    case invalid
    /// Applied, and its rollback (outside a transaction) failed part-way.
    case rollbackPartial = "rollback-partial"
}

/// One line of `bellows migrations status`.
public struct MigrationStatus: Sendable, Hashable {
    public var name: String
    public var number: Int?
    public var state: MigrationState
    public var path: String?
    public var description: String?
    /// The file's checksum now (nil when the file is missing).
    public var fileChecksum: String?
    /// The checksum in the ledger (nil when not applied).
    public var appliedChecksum: String?
    /// ISO 8601, UTC.
    public var appliedAt: String?
    public var appliedBy: String?
    public var durationMilliseconds: Int?
    public var transactional: Bool?
    /// For a partial file: statements applied so far, of how many.
    public var completedStatements: Int?
    public var totalStatements: Int?
    public var hasRollbackFile: Bool
    /// For `renamed`: the name the ledger records.
    public var renamedFrom: String?
    /// For `invalid`: why the runner refuses the file, located.
    public var problem: String?
}

/// Something a rollback file destroys, found by scanning its statements.
public struct RollbackLoss: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// `values`: a column's values overwritten with NULL (`UPDATE … SET c = NULL`).
        case schema, table, column, index, type, rows, values, other
    }

    public var kind: Kind
    /// The object as named in the file (`users`, `users.nickname`, `public.t_idx`).
    public var object: String
    /// Line of the statement in the rollback file.
    public var line: Int
    /// Whether the object exists in the database now (nil when not checked).
    public var exists: Bool?
    /// Rows of the table (for a column: non-NULL values) that would be lost.
    public var rows: Int?
    /// `rows` is the planner's estimate (large tables are not counted).
    public var rowsEstimated: Bool
    /// Bytes that would be lost: the table's with its indexes and TOAST (`pg_total_relation_size`),
    /// a column's values (`sum(pg_column_size)`, or from `pg_stats` for a large table); nil when not measured.
    public var bytes: Int? = nil
    /// The statement, for `other` (and for `values`, `rows`: the statement that has a WHERE).
    public var statement: String?
    /// The statement ends in CASCADE: what depends on the object goes too (found when the
    /// database is read: the tables of a schema, referencing tables, columns of a type).
    public var cascade: Bool = false
    /// For a loss found through a CASCADE: the statement that causes it.
    public var via: String?
    /// The 0-based index of the statement in the rollback file.
    public var statementIndex: Int? = nil
    /// The `search_path` the statement runs under when the file sets its own before it
    /// (`SET search_path`, `set_config('search_path', …)`, `RESET`): unqualified names resolve
    /// in it (hostile-h 01). Nil: the connection's.
    public var searchPath: String? = nil
}

/// What `bellows migrate rollback` would do, to show before asking for confirmation.
public struct RollbackPreview: Sendable {
    public var migration: String
    public var rollbackPath: String
    public var transactional: Bool
    public var nonTransactionalReason: String?
    public var statements: [MigrationStatement]
    public var losses: [RollbackLoss]
    /// Applied migrations (and active plans, as `plan:ID`) that depend on this migration.
    public var dependents: [String]
    public var appliedAt: String?
    public var appliedBy: String?
}

/// A rollback that ran.
public struct RolledBackMigration: Sendable, Hashable {
    public var name: String
    public var rollbackPath: String
    public var transactional: Bool
    public var milliseconds: Double
    public var statementsRun: Int
    /// With `--archive`: the archives kept of what the rollback dropped (tables of `bellows_archive`).
    public var archived: [String] = []
}

/// The runner refused to start: nothing ran, the database is unchanged.
public struct MigrationRefusal: Error, Sendable, CustomStringConvertible {
    /// `migrate` or `rollback`.
    public var command: String
    public var problems: [MigrationProblem]

    public init(command: String, problems: [MigrationProblem]) {
        self.command = command
        self.problems = problems
    }

    public var description: String {
        "\(command) refused; nothing was changed:\n" + problems.map { problem in
            "  - [\(problem.gate)] \(problem.migration): \(problem.message)" + (problem.remedy.map { "\n    → \($0)" } ?? "")
        }.joined(separator: "\n")
    }
}

/// A statement of a migration (or rollback) file failed.
///
/// `description` reads `file:line:col: ERROR 42P01: message`, then DETAIL, HINT and CONTEXT
/// lines, the failing statement, and what remains of the file in the database.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    public var migration: String
    /// The file that failed (the rollback file for a rollback).
    public var file: String
    /// Where the failing statement starts in the file.
    public var line: Int
    public var column: Int
    /// Where in the file PostgreSQL located the error (its error position), when it did.
    public var errorLine: Int?
    public var errorColumn: Int?
    /// 0-based index of the failing statement among the executable statements; nil when
    /// the failure was not in a statement of the file (COMMIT, the ledger).
    public var statementIndex: Int?
    public var statement: String?
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    public var context: String?
    public var transactional: Bool
    public var isRollback: Bool
    /// Statements of a non-transactional file that are applied and remain.
    public var completedStatements: Int
    public var totalStatements: Int
    public var underlying: PostgresError?

    /// `file:line:col` of the error: PostgreSQL's position when it gave one, else the statement's start.
    public var location: String {
        "\(file):\(errorLine ?? line):\(errorColumn ?? column)"
    }

    public var description: String {
        var text = "\(location): ERROR" + (sqlState.map { " \($0)" } ?? "") + ": \(message)"
        if let detail { text += "\nDETAIL: \(detail)" }
        if let hint { text += "\nHINT: \(hint)" }
        if let context { text += "\nCONTEXT: \(context)" }
        if let statementIndex, let statement {
            let lines = statement.split(separator: "\n", omittingEmptySubsequences: false)
            let shown = lines.prefix(6).map { "    " + $0 }.joined(separator: "\n") + (lines.count > 6 ? "\n    …" : "")
            text += "\nin statement \(statementIndex + 1) of \(totalStatements) (\(file):\(line):\(column)):\n\(shown)"
        }
        if isRollback {
            text += transactional
                ? "\nthe rollback of \(migration) was undone: its transaction rolled back, the migration stays applied"
                : "\nthe rollback of \(migration) runs outside a transaction: \(completedStatements) of \(totalStatements) statements ran; the migration stays recorded as applied — fix the cause and run the rollback again (its statements must be idempotent)"
        } else if transactional {
            text += "\nnothing of \(migration) was applied: its transaction was rolled back"
        } else {
            let next = (statementIndex ?? completedStatements) + 1
            text += "\n\(migration) runs outside a transaction: \(completedStatements) of \(totalStatements) statements are applied and recorded; fix the cause and run `bellows migrate` again to resume at statement \(next)"
        }
        return text
    }

    /// The file position (1-based line and column) of PostgreSQL's 1-based character
    /// `position` inside a statement that starts at `line`:`column`.
    public static func filePosition(of position: Int, in sql: String, line: Int, column: Int) -> (line: Int, column: Int) {
        var line = line, column = column, index = 1
        for scalar in sql.unicodeScalars {
            if index >= position { break }
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
            index += 1
        }
        return (line, column)
    }
}
