import ArgumentParser
import BellowsEngine
import Foundation

/// Where the migrations and the database are, and how output looks.
struct MigrationTargetOptions: ParsableArguments {
    @Option(name: [.customLong("database"), .customShort("d")],
            help: "libpq connection string or URI (default: $BELLOWS_DATABASE, then the PG* environment, ~/.pgpass, service files).")
    var database: String?

    @Option(help: "Project directory holding migrations/ (and plans/).")
    var project: String = "."

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    var conninfo: String? { database ?? ProcessInfo.processInfo.environment["BELLOWS_DATABASE"] }
}

/// How the runner takes locks, and who it is.
struct MigrationRunOptions: ParsableArguments {
    @Option(help: "Who runs the command, for the ledger and the audit log (default: $BELLOWS_ACTOR or user@host).")
    var actor: String?

    @Option(help: "lock_timeout of the runner's session in milliseconds; a statement that waits longer for a lock is retried.")
    var lockTimeout: Int = 2000

    @Option(help: "Retries after a lock timeout before the migration fails.")
    var lockRetries: Int = 5

    @Option(help: "Seconds to wait for another `bellows migrate` that holds the migration lock.")
    var wait: Double = 60

    @Option(help: "A statement a killed run started and Bellows cannot check: done (it completed, record it) or rerun (run it again).")
    var started: StartedStatementResolution?

    func validate() throws {
        guard lockTimeout > 0 else { throw ValidationError("--lock-timeout must be a positive number of milliseconds") }
        guard lockRetries >= 0 else { throw ValidationError("--lock-retries must not be negative") }
        guard wait >= 0 else { throw ValidationError("--wait must not be negative") }
    }
}

func migrationRunner(_ target: MigrationTargetOptions, _ run: MigrationRunOptions?, refuseLintErrors: Bool = false) -> MigrationRunner {
    var options = MigrationOptions(conninfo: target.conninfo)
    options.refuseLintErrors = refuseLintErrors
    if let run {
        if let actor = run.actor { options.actor = actor }
        options.lockTimeoutMilliseconds = run.lockTimeout
        options.lockRetries = run.lockRetries
        options.runnerLockWaitMilliseconds = Int(run.wait * 1000)
        options.startedStatement = run.started
        options.interrupt = installMigrationInterrupt()
    }
    return MigrationRunner(project: Project(root: target.project), options: options,
                           reporter: Terminal.reporter(verbose: false, json: target.format == .json))
}

extension StartedStatementResolution: ExpressibleByArgument {}

/// On SIGINT or SIGTERM, cancels the statement the runner is running (the runner then
/// stops and the command exits 4); a second signal exits at once. The signal handler only
/// sets `stopRequested` (see `installStopHandlers`); a thread of its own sees it and cancels,
/// since cancelling is not safe inside a signal handler.
func installMigrationInterrupt() -> MigrationInterrupt {
    let interrupt = MigrationInterrupt()
    installStopHandlers()
    Thread.detachNewThread {
        while !stopRequested.load(ordering: .relaxed) { usleep(10_000) }
        interrupt.trigger()
    }
    return interrupt
}

/// Renders a migration command's error and exits with the shared exit codes: 1 refused
/// (nothing changed), 2 usage, 3 a statement failed, 4 interrupted.
func failMigration(_ error: Error, format: OutputFormat, command: any ParsableCommand.Type) -> Error {
    let (report, code): (ErrorReport, Int32)
    switch error {
    case let interrupted as MigrationInterrupted: (report, code) = (ErrorReport(interrupted), ExitStatus.interrupted)
    case let refusal as MigrationRefusal: (report, code) = (ErrorReport(refusal), ExitStatus.refused)
    case let failure as MigrationError: (report, code) = (ErrorReport(failure), ExitStatus.failed)
    case let error as BellowsError:
        renderError(error, format: format, command: command)
        return ExitCode(ExitStatus.code(for: error))
    default:
        return error
    }
    if format == .json {
        JSONOutput.print(command.documentName, error: report, exitCode: code)
    } else {
        Terminal.err(Terminal.red("✗ ") + report.message)
    }
    return ExitCode(code)
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the pending SQL migrations of migrations/ in order, each recorded in the ledger; or roll one back.",
        discussion: """
        A transactional file and its ledger row commit in one transaction; a file that cannot run in a \
        transaction (CREATE INDEX CONCURRENTLY, `-- bellows:no-transaction`) runs statement by statement \
        and resumes where it stopped. Applied files that changed are refused as drift. See docs/migrations.md.

        """ + ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.failed, ExitStatus.interrupted, ExitStatus.cannotConnect, saying: [
            ExitStatus.refused: "refused (drift, dependency, lock, lint errors, not confirmed; nothing changed), or stopped before a file that waits for a plan to be contracted (the files before it applied)",
            ExitStatus.interrupted: "interrupted (SIGINT/SIGTERM cancelled the running statement; run again to resume)",
        ]),
        subcommands: [MigrateApply.self, MigrateRollback.self],
        defaultSubcommand: MigrateApply.self)
}

struct MigrateApply: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply pending migrations (the default of `bellows migrate`).")

    @Option(help: "Stop after the migration with this number.")
    var to: Int?

    @Flag(help: "Print what would run (files, transaction mode, statements) and change nothing.")
    var dryRun = false

    @Flag(help: "Apply pending files even when `bellows lint` reports an error in them (each is listed). A `-- bellows:ignore RULE: why` comment before a statement accepts one finding instead.")
    var allowLintErrors = false

    @Option(name: .customLong("accept-drift"), parsing: .upToNextOption,
            help: "Accept that an applied file changed (name or number; repeatable): record its new checksum.")
    var acceptDrift: [String] = []

    @Flag(help: "Change nothing on the target: copy its schema and ledger (read-only) into a private scratch PostgreSQL, apply the pending migrations there one by one, run each one's tests (migrations/tests/NNN_*.sql, rolled back), then its rollback file (the catalog must be as before it) and the migration again. Exit 3 when a test fails, 1 when a rollback differs.")
    var test = false

    @Option(name: .customLong("pg-bindir"), help: ArgumentHelp("With --test: the server binaries (initdb, pg_ctl) of the scratch cluster, e.g. production's major version; default $BELLOWS_PG_BINDIR, then the machine's.", valueName: "dir"))
    var pgBindir: String?

    @OptionGroup var target: MigrationTargetOptions
    @OptionGroup var runOptions: MigrationRunOptions

    func validate() throws {
        if test && dryRun { throw ValidationError("--test already changes nothing on the target: give --test or --dry-run") }
        if test && !acceptDrift.isEmpty { throw ValidationError("--accept-drift records on the target; --test changes nothing there") }
        if pgBindir != nil && !test { throw ValidationError("--pg-bindir is for the scratch cluster of --test") }
    }

    func run() throws {
        let runner = migrationRunner(target, runOptions, refuseLintErrors: !allowLintErrors)
        do {
            if test {
                try runTests(runner)
                return
            }
            if dryRun {
                let plan = try runner.plan(to: to, acceptDrift: acceptDrift)
                let refusal = plan.problems.isEmpty ? nil : MigrationRefusal(command: "migrate", problems: plan.problems)
                if target.format == .json {
                    JSONOutput.print(Self.documentName, refusal == nil ? .ok : .refused, MigrateBody(dryRun: plan), error: refusal.map(ErrorReport.init))
                    if refusal != nil { throw ExitCode(ExitStatus.refused) }
                    return
                }
                renderDryRun(plan)
                if let refusal { throw refusal }
                return
            }
            let applied: [AppliedMigration]
            var waiting: MigrationWaitingForPlan?
            do {
                applied = try runner.apply(to: to, acceptDrift: acceptDrift)
            } catch let wait as MigrationWaitingForPlan {
                applied = wait.applied
                waiting = wait
            }
            if target.format == .json {
                var body = MigrateBody(applied: applied)
                guard let waiting else {
                    JSONOutput.print(Self.documentName, .ok, body)
                    return
                }
                body.waitingForPlan = MigrateBody.Wait(waiting.wait)
                var report = ErrorReport(kind: "waiting-for-plan", message: waiting.description)
                report.migration = waiting.wait.migration
                report.plan = waiting.wait.plan
                report.phase = waiting.wait.phase
                JSONOutput.print(Self.documentName, .refused, body, error: report)
                throw ExitCode(ExitStatus.refused)
            }
            for migration in applied {
                let mode = migration.transactional ? "in one transaction" : "outside a transaction"
                let resumed = migration.statementsResumed > 0 ? ", resumed after \(migration.statementsResumed)" : ""
                Terminal.out(Terminal.green("✓") + " \(migration.name)  applied \(mode), \(migration.statementsRun) statement(s)\(resumed), "
                             + String(format: "%.0f ms", migration.milliseconds))
            }
            if let waiting {
                Terminal.out("\(applied.count) migration(s) applied")
                Terminal.err(Terminal.bold("⏸ ") + "stopped before \(waiting.wait.migration): \(waiting.wait.message)\n  → \(waiting.wait.remedy)")
                throw ExitCode(ExitStatus.refused)
            }
            Terminal.out(applied.isEmpty ? "nothing to apply: the database is up to date" : "\(applied.count) migration(s) applied")
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw failMigration(error, format: target.format, command: Self.self)
        }
    }

    /// `--test`: the pending migrations and their tests on a scratch copy of the target.
    func runTests(_ runner: MigrationRunner) throws {
        let report = try runner.test(pgBinDirectory: pgBindir)
        let failures = report.testFailures
        let problems = report.rollbackProblems + (report.stopped.map { [$0] } ?? [])
        let rehearsed = report.migrations.filter { migration in
            migration.rollback.map { [.exact, .differs, .failed].contains($0.outcome) } ?? false
        }.count
        let summary = "\(report.applied) pending migration(s) applied on a scratch copy of the \(report.target); "
            + "\(report.migrations.flatMap(\.tests).count) test(s) run, \(failures.count) failed; "
            + "\(rehearsed) rollback file(s) rehearsed, \(report.rollbackProblems.count) problem(s); the target was not changed"
        if target.format == .json {
            var error = failures.first.map { first in
                ErrorReport(first, message: failures.map(\.description).joined(separator: "\n"))
            }
            if error == nil && !problems.isEmpty { error = ErrorReport(kind: "violations", message: problems.joined(separator: "\n")) }
            JSONOutput.print(Self.documentName, !failures.isEmpty ? .failed : problems.isEmpty ? .ok : .refused, MigrateTestBody(report), error: error)
        } else {
            for migration in report.migrations {
                Terminal.out(Terminal.green("✓") + " \(migration.migration)  applied on the scratch copy")
                for test in migration.tests {
                    if let failure = test.failure {
                        Terminal.out("  " + Terminal.red("✗ test \(test.test)") + "  " + failure.description.split(separator: "\n").joined(separator: "\n    "))
                    } else {
                        Terminal.out("  " + Terminal.green("✓") + " test \(test.test)  passed (\(test.statements) statement(s), rolled back)")
                    }
                }
                if let rollback = migration.rollback {
                    switch rollback.outcome {
                    case .exact:
                        Terminal.out("  " + Terminal.green("✓") + " rollback \(rollback.file ?? "")  exact: the catalog after it is the catalog before the migration; applied again")
                    case .differs, .failed:
                        Terminal.out("  " + Terminal.red("✗ rollback \(rollback.file ?? "")") + "  "
                                     + (rollback.message ?? "the catalog after it is not the catalog before the migration:"))
                        if rollback.message == nil {
                            for difference in rollback.differences { Terminal.out("    - " + difference) }
                        }
                    case .missing:
                        Terminal.out("  " + Terminal.bold("⚠") + " \(rollback.message ?? "no rollback file")")
                    case .skipped:
                        Terminal.out("  " + Terminal.dim("rollback not rehearsed: \(rollback.message ?? "")"))
                    }
                }
            }
            if let stopped = report.stopped { Terminal.out(Terminal.red("✗ ") + stopped) }
            if let wait = report.waitingForPlan {
                Terminal.out(Terminal.bold("⏸ ") + "stopped before \(wait.migration): \(wait.message)")
            }
            Terminal.out(report.migrations.isEmpty && report.waitingForPlan == nil ? "nothing to apply: the database is up to date; the target was not changed" : summary)
            if let first = failures.first {
                Terminal.err(Terminal.red("✗ ") + first.description)
            }
        }
        if !failures.isEmpty { throw ExitCode(ExitStatus.failed) }
        if !problems.isEmpty { throw ExitCode(ExitStatus.refused) }
    }

    func renderDryRun(_ plan: MigrationPlan) {
        Terminal.out(Terminal.bold("dry run: nothing is changed"))
        for note in plan.notes { Terminal.out(Terminal.dim("note: \(note)")) }
        for renamed in plan.renamed {
            Terminal.out("would record that \(renamed.from) is now named \(renamed.to) (same number and checksum; not applied again)")
        }
        for drift in plan.acceptedDrift {
            Terminal.out("would accept the drift of \(drift.name): checksum \(drift.recordedChecksum.prefix(12)) → \(drift.currentChecksum.prefix(12))"
                         + (drift.partial ? " (and run it from its first statement)" : ""))
        }
        if plan.pending.isEmpty && plan.waitingForPlan == nil { Terminal.out("nothing to apply (\(plan.appliedCount) applied)") }
        defer {
            if let wait = plan.waitingForPlan {
                Terminal.out(Terminal.bold("would stop before \(wait.migration)") + ": \(wait.message)\n  → \(wait.remedy)")
            }
        }
        for migration in plan.pending {
            let mode = migration.transactional
                ? "in one transaction" + (migration.ownTransactionControl ? " (opened and closed by the file's own BEGIN and COMMIT)" : "")
                : "outside a transaction, statement by statement: \(migration.nonTransactionalReason ?? "")"
                    + (migration.ownTransactionControl ? "; each BEGIN … COMMIT block of the file runs as one transaction" : "")
            Terminal.out(Terminal.bold("would apply \(migration.name)") + " — \(mode)")
            if !migration.dependencies.isEmpty { Terminal.out(Terminal.dim("  dependencies: \(migration.dependencies.joined(separator: ", "))")) }
            for statement in migration.statements {
                let skipped = migration.completedStatements.contains(statement.index) ? Terminal.dim("  (applied by an earlier run)") : ""
                let lines = statement.sql.split(separator: "\n", omittingEmptySubsequences: false)
                Terminal.out("  [\(statement.index + 1)] \(migration.path):\(statement.line): \(lines.first.map(String.init) ?? "")\(skipped)")
                for line in lines.dropFirst() { Terminal.out("      \(line)") }
            }
        }
    }
}

struct MigrateRollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Run migrations/rollback/NNN_….sql and remove the migration from the ledger, after showing what is lost.",
        discussion: "Asks for confirmation on a terminal; scripts pass --yes. Without a terminal and without --yes it refuses (exit 1). "
            + ExitStatus.help(0, ExitStatus.refused, ExitStatus.usage, ExitStatus.failed, ExitStatus.interrupted, ExitStatus.cannotConnect, saying: [
                ExitStatus.refused: "refused (dependents, lock, not confirmed; nothing changed)"]))

    @Argument(help: "The migration: its number (002) or name.")
    var migration: String

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    @Flag(help: "Roll back even though later applied migrations or active plans depend on it.")
    var force = false

    @Flag(help: "Keep what the rollback file drops (tables, columns; truncated rows, values set to NULL) in schema bellows_archive first, in its transaction (`bellows archive list`).")
    var archive = false

    @OptionGroup var target: MigrationTargetOptions
    @OptionGroup var runOptions: MigrationRunOptions

    func run() throws {
        let runner = migrationRunner(target, runOptions)
        do {
            let preview = try runner.rollbackPreview(migration)
            if target.format == .text { renderPreview(preview) }
            if !preview.dependents.isEmpty && !force {
                // The runner would refuse too; no point asking first.
                throw MigrationRefusal(command: "rollback", problems: [MigrationProblem(
                    gate: "dependents", migration: preview.migration,
                    message: "\(preview.dependents.joined(separator: ", ")) depend\(preview.dependents.count == 1 ? "s" : "") on it and would be left without it",
                    remedy: "roll back the dependents first, or pass --force")])
            }
            if !yes {
                guard isatty(STDIN_FILENO) == 1 else {
                    let message = "refusing to roll back \(preview.migration) without confirmation: stdin is not a terminal; pass --yes"
                    if target.format == .json {
                        JSONOutput.print(Self.documentName, .refused, MigrateRollbackBody(preview),
                                         error: ErrorReport(kind: "not-confirmed", message: message))
                    } else {
                        Terminal.err(Terminal.red("✗ ") + message)
                    }
                    throw ExitCode(ExitStatus.refused)
                }
                FileHandle.standardError.write(Data("Roll back \(preview.migration)? This cannot be undone. [y/N] ".utf8))
                let answer = (readLine() ?? "").trimmingCharacters(in: .whitespaces).lowercased()
                guard answer == "y" || answer == "yes" else {
                    Terminal.err("rollback cancelled; nothing was changed")
                    throw ExitCode(ExitStatus.refused)
                }
            }
            let result = try runner.rollback(migration, force: force, archive: archive)
            if target.format == .json {
                JSONOutput.print(Self.documentName, .ok, MigrateRollbackBody(preview, rolledBack: result))
            } else {
                Terminal.out(Terminal.green("✓") + " \(result.name) rolled back "
                             + (result.transactional ? "in one transaction" : "outside a transaction")
                             + String(format: " (%.0f ms); its ledger row is removed", result.milliseconds))
                for name in result.archived { Terminal.out("  kept in bellows_archive.\(name) (`bellows archive list`)") }
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw failMigration(error, format: target.format, command: Self.self)
        }
    }

    func renderPreview(_ preview: RollbackPreview) {
        Terminal.out(Terminal.bold("rollback of \(preview.migration)")
                     + (preview.appliedAt.map { " (applied \($0)" + (preview.appliedBy.map { " by \($0)" } ?? "") + ")" } ?? ""))
        Terminal.out("  runs \(preview.rollbackPath) " + (preview.transactional
            ? "in one transaction, with the ledger row's removal"
            : "outside a transaction, statement by statement (\(preview.nonTransactionalReason ?? "")); the ledger row is removed at the end")
            + ", \(preview.statements.count) statement(s)")
        if preview.losses.isEmpty {
            Terminal.out("  it drops no table, column, index or type that the scan recognises; its statements:")
            for statement in preview.statements {
                Terminal.out("    line \(statement.line): \(statement.sql.split(separator: "\n").first.map(String.init) ?? "")")
            }
        } else {
            Terminal.out("  what is lost" + (archive ? " (kept first in bellows_archive: --archive)" : "") + ":")
            for loss in preview.losses { Terminal.out("    - " + describe(loss)) }
            if !archive && preview.losses.contains(where: { [.table, .rows, .column, .values].contains($0.kind) && $0.exists != false }) {
                Terminal.out(Terminal.dim("  --archive keeps these tables and columns in bellows_archive first"))
            }
        }
        if !preview.dependents.isEmpty {
            Terminal.out(Terminal.red("  depended on by: \(preview.dependents.joined(separator: ", "))") + (force ? " (--force)" : ""))
        }
    }

    func describe(_ loss: RollbackLoss) -> String {
        let rows = loss.rows.map { count in
            let number = (loss.rowsEstimated ? "~" : "") + String(count)
            return (loss.kind == .column ? ", \(number) non-NULL value(s)" : ", \(number) row(s)")
                + (loss.bytes.map { ", " + (loss.rowsEstimated ? "~" : "") + Terminal.bytes($0) } ?? "")
        } ?? ""
        let absent = (loss.exists == false ? " (does not exist now)" : "") + (loss.via.map { " — by \($0)" } ?? "")
        switch loss.kind {
        case .schema: return "schema \(loss.object)\(absent)" + (loss.cascade ? " and everything in it" : "")
        case .table: return "table \(loss.object)\(rows)\(absent)"
        case .column: return "column \(loss.object)\(rows)\(absent)"
        case .values: return "the values of column \(loss.object) (set to NULL)\(rows)" + (loss.statement != nil ? " at most: the UPDATE has a WHERE" : "") + absent
        case .index: return "index \(loss.object)\(absent)"
        case .type: return "type \(loss.object)\(absent)"
        case .rows: return "the rows of \(loss.object)\(rows)\(absent)"
        case .other: return "line \(loss.line): \(loss.statement ?? loss.object)"
        }
    }
}
