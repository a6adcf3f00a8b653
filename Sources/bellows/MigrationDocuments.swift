import BellowsEngine
import Foundation

// The JSON fields of `migrate`, `migrate rollback`, `migrations status` (docs/json.md).

/// A statement of a migration file. `index` counts from 1.
struct StatementJSON: Encodable {
    var index: Int
    var line: Int
    var column: Int
    var sql: String
    /// The file's BEGIN … COMMIT block it runs in, if any.
    var block: Int?

    init(_ statement: MigrationStatement) {
        index = statement.index + 1
        line = statement.line
        column = statement.column
        sql = statement.sql
        block = statement.block
    }
}

/// `migrate` (apply): the files applied; with --dry-run, what would run.
struct MigrateBody: Encodable {
    struct Applied: Encodable {
        var name: String
        var checksum: String
        var transactional: Bool
        var durationMs: Double
        var statementsRun: Int
        var statementsResumed: Int

        enum CodingKeys: String, CodingKey {
            case name, checksum, transactional
            case durationMs = "duration_ms", statementsRun = "statements_run", statementsResumed = "statements_resumed"
        }
    }

    struct Pending: Encodable {
        var name: String
        var path: String
        var checksum: String
        var description: String?
        var dependencies: [String]
        var transactional: Bool
        var nonTransactionalReason: String?
        var ownTransactionControl: Bool
        var statements: [StatementJSON]
        /// Statements (from 1) an interrupted run applied: skipped.
        var completedStatements: [Int]
        var outOfOrder: Bool

        enum CodingKeys: String, CodingKey {
            case name, path, checksum, description, dependencies, transactional, statements
            case nonTransactionalReason = "non_transactional_reason", ownTransactionControl = "own_transaction_control"
            case completedStatements = "completed_statements", outOfOrder = "out_of_order"
        }

        init(_ migration: PendingMigration) {
            name = migration.name
            path = migration.path
            checksum = migration.checksum
            description = migration.description
            dependencies = migration.dependencies
            transactional = migration.transactional
            nonTransactionalReason = migration.nonTransactionalReason
            ownTransactionControl = migration.ownTransactionControl
            statements = migration.statements.map(StatementJSON.init)
            completedStatements = migration.completedStatements.sorted().map { $0 + 1 }
            outOfOrder = migration.outOfOrder
        }
    }

    struct Drift: Encodable {
        var name: String
        var path: String
        var recordedChecksum: String
        var currentChecksum: String
        var partial: Bool

        enum CodingKeys: String, CodingKey {
            case name, path, partial
            case recordedChecksum = "recorded_checksum", currentChecksum = "current_checksum"
        }
    }

    struct Rename: Encodable {
        var from: String
        var to: String
    }

    var dryRun: Bool
    /// Applied by this run (empty in a dry run).
    var applied: [Applied]
    /// A dry run's plan: what would be applied, drift accepted, renames recorded, notes.
    var pending: [Pending]?
    var acceptedDrift: [Drift]?
    var renamed: [Rename]?
    var notes: [String]?
    var appliedCount: Int?
    /// The file the run stops before (it depends on a plan not contracted yet); absent otherwise.
    var waitingForPlan: Wait?

    struct Wait: Encodable {
        var migration: String
        var plan: String
        var phase: String
        var remedy: String

        init(_ wait: PlanWait) {
            migration = wait.migration
            plan = wait.plan
            phase = wait.phase
            remedy = wait.remedy
        }
    }

    enum CodingKeys: String, CodingKey {
        case applied, pending, renamed, notes
        case dryRun = "dry_run", acceptedDrift = "accepted_drift", appliedCount = "applied_count"
        case waitingForPlan = "waiting_for_plan"
    }

    init(applied: [AppliedMigration]) {
        dryRun = false
        self.applied = applied.map {
            Applied(name: $0.name, checksum: $0.checksum, transactional: $0.transactional, durationMs: $0.milliseconds,
                    statementsRun: $0.statementsRun, statementsResumed: $0.statementsResumed)
        }
    }

    init(dryRun plan: MigrationPlan) {
        dryRun = true
        applied = []
        pending = plan.pending.map(Pending.init)
        acceptedDrift = plan.acceptedDrift.map {
            Drift(name: $0.name, path: $0.path, recordedChecksum: $0.recordedChecksum, currentChecksum: $0.currentChecksum, partial: $0.partial)
        }
        renamed = plan.renamed.map { Rename(from: $0.from, to: $0.to) }
        notes = plan.notes
        appliedCount = plan.appliedCount
        waitingForPlan = plan.waitingForPlan.map(Wait.init)
    }
}

/// A migration test as it ran (`migrate --test`, `rehearse`).
struct MigrationTestJSON: Encodable {
    struct Failure: Encodable {
        var file: String
        var line: Int
        var column: Int
        var statementLine: Int
        var sqlstate: String?
        var message: String
        var detail: String?
        var hint: String?
        var context: String?

        enum CodingKeys: String, CodingKey {
            case file, line, column, sqlstate, message, detail, hint, context
            case statementLine = "statement_line"
        }
    }

    var test: String
    var file: String
    var passed: Bool
    var statements: Int
    var durationMs: Double
    /// Absent when it passed.
    var failure: Failure?

    enum CodingKeys: String, CodingKey {
        case test, file, passed, statements, failure
        case durationMs = "duration_ms"
    }

    init(_ result: MigrationTestResult) {
        test = result.test
        file = result.file
        passed = result.passed
        statements = result.statements
        durationMs = result.milliseconds
        failure = result.failure.map {
            Failure(file: $0.file, line: $0.line, column: $0.column, statementLine: $0.statementLine, sqlstate: $0.sqlState,
                    message: $0.message, detail: $0.detail, hint: $0.hint, context: $0.context)
        }
    }
}

/// A migration as `migrate --test` or `rehearse` applied it: its tests, its rollback file rehearsed.
struct MigrationRehearsalJSON: Encodable {
    struct Rollback: Encodable {
        /// `exact`, `differs`, `failed`, `missing`, `skipped`.
        var outcome: String
        var file: String?
        var differences: [String]
        var message: String?
    }

    var name: String
    var tests: [MigrationTestJSON]
    /// Absent when rollback files were not rehearsed (`rehearse --no-rollbacks`).
    var rollback: Rollback?

    init(_ result: MigrationRehearsalResult) {
        name = result.migration
        tests = result.tests.map(MigrationTestJSON.init)
        rollback = result.rollback.map { Rollback(outcome: $0.outcome.rawValue, file: $0.file, differences: $0.differences, message: $0.message) }
    }
}

/// `migrate --test`: the pending migrations applied on a scratch copy, and their tests.
struct MigrateTestBody: Encodable {
    var test = true
    var target: String
    var scratchServer: String
    var alreadyApplied: Int
    var applied: Int
    var migrations: [MigrationRehearsalJSON]
    var waitingForPlan: MigrateBody.Wait?
    /// Why the run stopped before the last pending migration (a rollback failed, or the
    /// migration did not apply again after it).
    var stopped: String?

    enum CodingKeys: String, CodingKey {
        case test, target, applied, migrations, stopped
        case scratchServer = "scratch_server", alreadyApplied = "already_applied", waitingForPlan = "waiting_for_plan"
    }

    init(_ report: MigrationTestReport) {
        target = report.target
        scratchServer = report.scratchServer
        alreadyApplied = report.alreadyApplied
        applied = report.applied
        migrations = report.migrations.map(MigrationRehearsalJSON.init)
        waitingForPlan = report.waitingForPlan.map(MigrateBody.Wait.init)
        stopped = report.stopped
    }
}

/// `migrate rollback`: what the rollback destroys (shown before it runs), and what ran.
struct MigrateRollbackBody: Encodable {
    struct Preview: Encodable {
        var migration: String
        var rollbackPath: String
        var transactional: Bool
        var nonTransactionalReason: String?
        var statements: [StatementJSON]
        var losses: [Loss]
        /// Applied migrations and active plans (`plan:ID`) that depend on it.
        var dependents: [String]
        var appliedAt: String?
        var appliedBy: String?

        enum CodingKeys: String, CodingKey {
            case migration, transactional, statements, losses, dependents
            case rollbackPath = "rollback_path", nonTransactionalReason = "non_transactional_reason"
            case appliedAt = "applied_at", appliedBy = "applied_by"
        }
    }

    struct Loss: Encodable {
        /// `schema`, `table`, `column`, `index`, `type`, `rows`, `values`, `other`.
        var kind: String
        var object: String
        var line: Int
        var exists: Bool?
        var rows: Int?
        var rowsEstimated: Bool
        var statement: String?
        var cascade: Bool
        var via: String?
        /// Bytes lost (table with indexes and TOAST, or a column's values); null when not measured.
        var bytes: Int?

        enum CodingKeys: String, CodingKey {
            case kind, object, line, exists, rows, statement, cascade, via, bytes
            case rowsEstimated = "rows_estimated"
        }
    }

    struct RolledBack: Encodable {
        var name: String
        var rollbackPath: String
        var transactional: Bool
        var durationMs: Double
        var statementsRun: Int
        /// `--archive`: the tables of bellows_archive it kept.
        var archived: [String]

        enum CodingKeys: String, CodingKey {
            case name, transactional, archived
            case rollbackPath = "rollback_path", durationMs = "duration_ms", statementsRun = "statements_run"
        }
    }

    var preview: Preview
    /// Null when it did not run (refused, not confirmed).
    var rolledBack: RolledBack?

    enum CodingKeys: String, CodingKey {
        case preview
        case rolledBack = "rolled_back"
    }

    init(_ preview: RollbackPreview, rolledBack: RolledBackMigration? = nil) {
        self.preview = Preview(
            migration: preview.migration, rollbackPath: preview.rollbackPath, transactional: preview.transactional,
            nonTransactionalReason: preview.nonTransactionalReason, statements: preview.statements.map(StatementJSON.init),
            losses: preview.losses.map {
                Loss(kind: $0.kind.rawValue, object: $0.object, line: $0.line, exists: $0.exists, rows: $0.rows,
                     rowsEstimated: $0.rowsEstimated, statement: $0.statement, cascade: $0.cascade, via: $0.via, bytes: $0.bytes)
            },
            dependents: preview.dependents, appliedAt: preview.appliedAt, appliedBy: preview.appliedBy)
        self.rolledBack = rolledBack.map {
            RolledBack(name: $0.name, rollbackPath: $0.rollbackPath, transactional: $0.transactional,
                       durationMs: $0.milliseconds, statementsRun: $0.statementsRun, archived: $0.archived)
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(preview, forKey: .preview)
        try container.encode(rolledBack, forKey: .rolledBack)
    }
}

/// `migrations status`: every file and ledger row.
struct MigrationsStatusBody: Encodable {
    struct Line: Encodable {
        var name: String
        var number: Int?
        /// `applied`, `pending`, `drifted`, `partial`, `missing-file`, `renamed`, `invalid`, `rollback-partial`.
        var state: String
        var path: String?
        var description: String?
        var fileChecksum: String?
        var appliedChecksum: String?
        var appliedAt: String?
        var appliedBy: String?
        var durationMs: Int?
        var transactional: Bool?
        var completedStatements: Int?
        var totalStatements: Int?
        var hasRollbackFile: Bool
        var renamedFrom: String?
        var problem: String?

        enum CodingKeys: String, CodingKey {
            case name, number, state, path, description, transactional, problem
            case fileChecksum = "file_checksum", appliedChecksum = "applied_checksum", appliedAt = "applied_at"
            case appliedBy = "applied_by", durationMs = "duration_ms", completedStatements = "completed_statements"
            case totalStatements = "total_statements", hasRollbackFile = "has_rollback_file", renamedFrom = "renamed_from"
        }

        init(_ line: MigrationStatus) {
            name = line.name
            number = line.number
            state = line.state.rawValue
            path = line.path
            description = line.description
            fileChecksum = line.fileChecksum
            appliedChecksum = line.appliedChecksum
            appliedAt = line.appliedAt
            appliedBy = line.appliedBy
            durationMs = line.durationMilliseconds
            transactional = line.transactional
            completedStatements = line.completedStatements
            totalStatements = line.totalStatements
            hasRollbackFile = line.hasRollbackFile
            renamedFrom = line.renamedFrom
            problem = line.problem
        }
    }

    var migrations: [Line]
}
