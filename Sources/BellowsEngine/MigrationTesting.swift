import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

// Migration tests (`migrations/tests/NNN_anything.sql`): each runs after migration NNN inside
// a transaction that is always rolled back; any error fails it (`RAISE EXCEPTION` is the
// assertion). `bellows migrate --test` runs them on a scratch copy of the target,
// `bellows rehearse` after applying the migrations, `check` reports a test that names no
// migration (`migration-test-orphan`).

/// A file of `migrations/tests/`.
public struct MigrationTestFile: Sendable, Hashable {
    /// The stem, e.g. `004_test_verifier_specializations`.
    public var name: String
    /// The number of the migration it belongs to (`004`); nil when the name has none.
    public var number: Int?
    public var path: String

    public init(name: String, number: Int?, path: String) {
        self.name = name
        self.number = number
        self.path = path
    }
}

extension Project {
    /// `migrations/tests`.
    public var migrationTestsDirectory: String {
        (migrationsDirectory as NSString).appendingPathComponent("tests")
    }

    /// The `*.sql` files of `migrations/tests/`, sorted by name.
    public func migrationTestFiles() -> [MigrationTestFile] {
        Self.files(in: migrationTestsDirectory, extensions: ["sql"]).map { path in
            let stem = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            return MigrationTestFile(name: stem, number: PlanNaming.sequenceNumber(of: stem), path: path)
        }
    }
}

/// `check`'s rule for migration tests. Pure.
public enum MigrationTestCheck {
    public static let rule = "migration-test-orphan"

    /// A test whose name starts with no number, or with a number no migration file has, is an
    /// error: it would never run.
    public static func findings(tests: [MigrationTestFile], migrations: [MigrationFileRef]) -> [Finding] {
        let numbers = Set(migrations.compactMap(\.number))
        return tests.compactMap { test in
            let path = MigrationRunner.display(test.path)
            guard let number = test.number else {
                return Finding(file: path, line: 1, column: 1, severity: .error, rule: rule,
                               message: "migration test \(test.name) names no migration: its file name must start with the number of the migration it tests (NNN_…), so it never runs")
            }
            guard numbers.contains(number) else {
                let known = migrations.compactMap(\.number).sorted().map { String(format: "%03d", $0) }
                return Finding(file: path, line: 1, column: 1, severity: .error, rule: rule,
                               message: "migration test \(test.name) belongs to migration \(String(format: "%03d", number)), which does not exist in migrations/"
                                   + (known.isEmpty ? "" : " (migrations: \(known.joined(separator: ", ")))") + "; it never runs")
            }
            return nil
        }
    }
}

/// A migration test failed: where (PostgreSQL's error position mapped to the file, or the
/// line of a `DO` block PL/pgSQL names, else the statement's start), SQLSTATE and message.
public struct MigrationTestFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public var test: String
    public var migration: String
    public var file: String
    public var line: Int
    public var column: Int
    /// Where the failing statement starts.
    public var statementLine: Int
    public var statementColumn: Int
    public var statement: String
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    public var context: String?

    public var location: String { "\(file):\(line):\(column)" }

    public var description: String {
        var text = "\(location): ERROR" + (sqlState.map { " \($0)" } ?? "") + ": \(message)"
        if let detail { text += "\nDETAIL: \(detail)" }
        if let hint { text += "\nHINT: \(hint)" }
        if let context { text += "\nCONTEXT: \(context)" }
        text += "\nin migration test \(test) of \(migration) (statement at \(file):\(statementLine):\(statementColumn)); its transaction was rolled back"
        return text
    }
}

/// One migration test as it ran.
public struct MigrationTestResult: Sendable, Hashable {
    public var test: String
    public var migration: String
    public var file: String
    public var statements: Int
    public var milliseconds: Double
    /// nil: it passed.
    public var failure: MigrationTestFailure?
    public var passed: Bool { failure == nil }
}

public enum MigrationTestRunner {
    /// Runs `test` on `connection` in a transaction that is always rolled back: its own
    /// `BEGIN`/`COMMIT`/`ROLLBACK` are left out (nothing of a test may remain), every other
    /// statement is sent on its own, and the first error ends it.
    public static func run(_ test: MigrationTestFile, migration: String, connection: Connection) throws -> MigrationTestResult {
        let (text, _) = try MigrationRunner.read(test.path)
        let file = MigrationRunner.display(test.path)
        let statements = MigrationFile.analyze(text).executableStatements
        let started = Date()
        var failure: MigrationTestFailure?
        do {
            try connection.execute("BEGIN")
            for statement in statements {
                do {
                    try connection.execute(statement.text)
                } catch {
                    let error = error as? PostgresError ?? PostgresError(kind: .client, message: "\(error)")
                    failure = Self.failure(error, statement: statement, test: test.name, migration: migration, file: file, text: text)
                    break
                }
            }
        } catch {
            let error = error as? PostgresError ?? PostgresError(kind: .client, message: "\(error)")
            failure = MigrationTestFailure(test: test.name, migration: migration, file: file, line: 1, column: 1, statementLine: 1,
                                           statementColumn: 1, statement: "BEGIN", sqlState: error.sqlState?.rawValue, message: error.message)
        }
        if connection.isOpen {
            _ = try? connection.execute("ROLLBACK")
            _ = try? connection.execute("RESET ALL")
        }
        return MigrationTestResult(test: test.name, migration: migration, file: file, statements: statements.count,
                                   milliseconds: Date().timeIntervalSince(started) * 1000, failure: failure)
    }

    static func failure(_ error: PostgresError, statement: SQLStatement, test: String, migration: String, file: String, text: String) -> MigrationTestFailure {
        let located = locate(error, statement: statement, text: text)
        return MigrationTestFailure(test: test, migration: migration, file: file, line: located.line, column: located.column,
                                    statementLine: statement.line, statementColumn: statement.column, statement: statement.text,
                                    sqlState: error.sqlState?.rawValue, message: error.message, detail: error.detail, hint: error.hint,
                                    context: error.context)
    }

    /// Where in the file an error of `statement` is: PostgreSQL's error position inside the
    /// statement; else, for a `DO` block, the line PL/pgSQL names in its context (`PL/pgSQL
    /// function inline_code_block line 5 at RAISE`: line 1 is the line of the opening quote
    /// of the block's body), at the first non-blank column of that line; else the statement's
    /// start. Pure.
    public static func locate(_ error: PostgresError, statement: SQLStatement, text: String) -> (line: Int, column: Int) {
        if let position = error.position, position > 0 {
            return MigrationError.filePosition(of: position, in: statement.text, line: statement.line, column: statement.column)
        }
        if statement.matches("DO"), let context = error.context, let bodyLine = plpgsqlLine(context),
           let body = statement.significantTokens.first(where: { $0.kind == .dollarString || $0.kind == .string }) {
            let line = body.line + bodyLine - 1
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard line >= 1, line <= lines.count else { return (statement.line, statement.column) }
            let column = (lines[line - 1].unicodeScalars.firstIndex { $0 != " " && $0 != "\t" && $0 != "\r" })
                .map { lines[line - 1].unicodeScalars.distance(from: lines[line - 1].unicodeScalars.startIndex, to: $0) + 1 } ?? 1
            return (line, column)
        }
        return (statement.line, statement.column)
    }

    /// The line of the anonymous code block in a PL/pgSQL error context: its outermost frame
    /// (the last `PL/pgSQL function inline_code_block line N` of the context).
    static func plpgsqlLine(_ context: String) -> Int? {
        var found: Int?
        for line in context.split(separator: "\n") {
            guard let range = line.range(of: "PL/pgSQL function inline_code_block line ") else { continue }
            let digits = line[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
            if let number = Int(digits) { found = number }
        }
        return found
    }
}

/// What rehearsing a migration's rollback file found: applied, rolled back, applied again,
/// the catalog after the rollback compared with the catalog before the migration.
public struct MigrationRollbackCheck: Sendable, Hashable {
    public enum Outcome: String, Sendable {
        /// The catalog after the rollback is the catalog before the migration, and the
        /// migration applied again as the first time.
        case exact
        /// Something differs (`differences` names it): a violation.
        case differs
        /// The rollback file, or the migration applied again after it, failed: a violation.
        case failed
        /// The migration has no rollback file: a warning.
        case missing
        /// Not rehearsed, and why (`message`).
        case skipped
    }

    public var outcome: Outcome
    /// The rollback file.
    public var file: String?
    /// `index widgets_name_idx exists after rollback (it did not before the migration): …`.
    public var differences: [String] = []
    public var message: String?

    /// A violation of the rehearsal (a difference or a failure), in one line per problem.
    public func problems(of migration: String) -> [String] {
        switch outcome {
        case .differs: return differences.map { "rollback of \(migration) (\(file ?? "")): \($0)" }
        case .failed: return ["rollback of \(migration) (\(file ?? "")): \(message ?? "failed")"]
        default: return []
        }
    }
}

/// One migration as `rehearse` or `migrate --test` ran it: applied, its tests, its rollback file.
public struct MigrationRehearsalResult: Sendable {
    public var migration: String
    public var tests: [MigrationTestResult]
    /// nil when rollback files were not rehearsed (`rehearse --no-rollbacks`).
    public var rollback: MigrationRollbackCheck?
}

/// Applies the pending migrations of a scratch database one by one (the runner, as `bellows
/// migrate` does), running each migration's tests after it; with `rollbacks`, then its
/// `rollback/` file, comparing the catalog with the one before the migration, and the
/// migration again, comparing with the catalog after its first application.
struct MigrationRehearsal {
    let runner: MigrationRunner
    let report: Reporter
    var rollbacks = true
    /// The database is in a private scratch cluster: a role a migration names (`OWNER TO`,
    /// `GRANT … TO`) that does not exist there is created (NOLOGIN) and the migration applied
    /// again. False for a database given with `-d`: its cluster's roles are not ours to create.
    var createsMissingRoles = true

    struct Outcome {
        var results: [MigrationRehearsalResult] = []
        var applied = 0
        var waiting: MigrationWaitingForPlan?
        /// Why the run stopped early (a migration did not apply again after its rollback).
        var stopped: String?
        /// Roles the migrations name that the scratch cluster did not have, created NOLOGIN.
        var createdRoles: [String] = []
    }

    /// The role of a `role "x" does not exist` error (SQLSTATE 42704), nil for any other. Pure.
    static func missingRole(_ error: MigrationError) -> String? {
        guard error.sqlState == "42704", error.message.hasPrefix("role \""), error.message.hasSuffix("\" does not exist") else { return nil }
        let name = String(error.message.dropFirst("role \"".count).dropLast("\" does not exist".count))
        return name.isEmpty ? nil : name
    }

    /// Creates `role` (NOLOGIN) in the scratch cluster.
    func createRole(_ role: String) throws {
        let connection = try BellowsError.connect(runner.options.conninfo)
        defer { connection.close() }
        do { try connection.execute("CREATE ROLE \(SQLQuote.identifier(role)) NOLOGIN") } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// Statements a non-transactional migration runs that reach beyond the database's own
    /// catalog (the cluster's configuration, other databases, tablespaces on disk, a
    /// subscription to another server): applying, rolling back and applying such a file again
    /// is not safe to repeat, so its rollback is not rehearsed. Returns what and where. Pure.
    static func unsafeToRepeat(_ migration: PendingMigration) -> String? {
        guard !migration.transactional else { return nil }
        let outside: Set<String> = ["ALTER SYSTEM", "CREATE DATABASE", "DROP DATABASE", "ALTER DATABASE … SET TABLESPACE",
                                    "CREATE TABLESPACE", "DROP TABLESPACE", "CREATE SUBSCRIPTION", "DROP SUBSCRIPTION"]
        for statement in migration.statements {
            guard let parsed = StatementSplitter.split(statement.sql).first,
                  let description = MigrationFile.nonTransactionalDescription(parsed), outside.contains(description) else { continue }
            return "`\(description)` at line \(statement.line) acts outside the database"
        }
        return nil
    }

    func snapshot() throws -> DatabaseSnapshot {
        let connection = try BellowsError.connect(runner.options.conninfo)
        defer { connection.close() }
        do { return try DatabaseSnapshot.take(connection) } catch let error as PostgresError { throw BellowsError.database(error) }
    }

    /// Whether and how `migration`'s rollback is rehearsed: nil to rehearse it with this file.
    func rollbackDecision(_ migration: PendingMigration) -> MigrationRollbackCheck? {
        let path = runner.rollbackPath(for: migration.name)
        guard FileManager.default.fileExists(atPath: path) else {
            let text = (try? String(contentsOfFile: migration.path, encoding: .utf8)) ?? ""
            let ignored = text.split(separator: "\n").contains { $0.contains(Linter.ignoreFileDirective) && $0.contains("missing-rollback") }
            return MigrationRollbackCheck(outcome: ignored ? .skipped : .missing, file: nil,
                                          message: "no rollback file \(MigrationRunner.display(path))"
                                            + (ignored ? " (the migration says `-- bellows:ignore-file missing-rollback`)" : "") + ": its rollback is not rehearsed")
        }
        if let reason = Self.unsafeToRepeat(migration) {
            return MigrationRollbackCheck(outcome: .skipped, file: MigrationRunner.display(path),
                                          message: "\(migration.name) runs outside a transaction and \(reason): applying it, rolling it back and applying it again is not safe to repeat, so its rollback is not rehearsed")
        }
        return nil
    }

    func run() throws -> Outcome {
        let plan = try runner.plan()
        guard plan.problems.isEmpty else { throw MigrationRefusal(command: "migrate", problems: plan.problems) }
        let tests = runner.project.migrationTestFiles()
        var outcome = Outcome()
        for migration in plan.pending {
            var check = rollbacks ? rollbackDecision(migration) : nil
            let rehearsing = rollbacks && check == nil
            let before = rehearsing ? try snapshot() : nil
            var applied: [AppliedMigration] = []
            var attempts = 0
            while true {
                do {
                    applied = try runner.apply(to: migration.number)
                    break
                } catch let waiting as MigrationWaitingForPlan {
                    outcome.applied += waiting.applied.count
                    outcome.waiting = waiting
                    return outcome
                } catch var error as MigrationError {
                    // A role the migration names (OWNER TO, GRANT … TO) exists on the real
                    // cluster, not in the scratch one: create it and apply the migration again
                    // (a transactional file was rolled back; a non-transactional one resumes
                    // after its applied statements, the failing one was not applied).
                    guard let role = Self.missingRole(error), !error.isRollback else { throw error }
                    guard createsMissingRoles else {
                        if error.hint == nil {
                            error.hint = "the database given with -d is in a cluster without role \(SQLQuote.identifier(role)): create it there (CREATE ROLE \(SQLQuote.identifier(role)) NOLOGIN), or rehearse without -d: the private cluster creates the roles the migrations name"
                        }
                        throw error
                    }
                    attempts += 1
                    guard attempts <= 100, !outcome.createdRoles.contains(role) else { throw error }
                    try createRole(role)
                    outcome.createdRoles.append(role)
                    report(.info("\(migration.name): role \(SQLQuote.identifier(role)) does not exist in the scratch cluster: created it (NOLOGIN); applying \(migration.name) again"))
                }
            }
            outcome.applied += applied.count
            guard applied.contains(where: { $0.name == migration.name }) else { continue }
            var result = MigrationRehearsalResult(migration: migration.name, tests: [])
            let own = tests.filter { $0.number != nil && $0.number == migration.number }
            if !own.isEmpty {
                let connection = try BellowsError.connect(runner.options.conninfo)
                defer { connection.close() }
                do {
                    try runner.applySessionSettings(connection)
                } catch {
                    throw BellowsError.database(error as? PostgresError ?? PostgresError(kind: .client, message: "\(error)"))
                }
                for test in own {
                    let ran = try MigrationTestRunner.run(test, migration: migration.name, connection: connection)
                    report(.info(ran.passed ? "\(migration.name): test \(test.name) passed (\(ran.statements) statement(s), rolled back)"
                                            : "\(migration.name): test \(test.name) FAILED: \(ran.failure.map { "\($0.location): \($0.sqlState ?? "") \($0.message)" } ?? "")"))
                    result.tests.append(ran)
                }
            }
            if let before {
                let (rehearsed, stop) = try rehearseRollback(migration, before: before)
                check = rehearsed
                if let stop { outcome.stopped = stop }
            } else if let check {
                report(.info("\(migration.name): \(check.message ?? check.outcome.rawValue)"))
            }
            result.rollback = check
            outcome.results.append(result)
            if outcome.stopped != nil { return outcome }
        }
        return outcome
    }

    /// Rolls `migration` back with its rollback file, compares the catalog with `before`, and
    /// applies it again. Returns the check, and why the run must stop (the migration did not
    /// apply again: the later ones cannot be applied on top of it).
    func rehearseRollback(_ migration: PendingMigration, before: DatabaseSnapshot) throws -> (MigrationRollbackCheck, String?) {
        let file = MigrationRunner.display(runner.rollbackPath(for: migration.name))
        let applied = try snapshot()
        report(.info("\(migration.name): rolling back with \(file), then applying it again"))
        do {
            try runner.rollback(migration.name, force: true)
        } catch let failure as MigrationError {
            let check = MigrationRollbackCheck(outcome: .failed, file: file, message: "the rollback file failed: \(failure.location): ERROR"
                                               + (failure.sqlState.map { " \($0)" } ?? "") + ": \(failure.message)")
            report(.info("\(migration.name): \(check.message ?? "")"))
            return (check, "the rollback of \(migration.name) failed; the migrations after it were not applied")
        }
        var check = MigrationRollbackCheck(outcome: .exact, file: file)
        check.differences = before.difference(to: try snapshot(), moment: "after rollback", reference: "before the migration")
        do {
            try runner.apply(to: migration.number)
        } catch let failure as MigrationError {
            check.outcome = .failed
            check.message = "\(migration.name) does not apply again after its rollback: \(failure.location): ERROR"
                + (failure.sqlState.map { " \($0)" } ?? "") + ": \(failure.message)"
            report(.info("\(migration.name): \(check.message ?? "")"))
            if !check.differences.isEmpty { check.message = (check.message ?? "") + "; " + check.differences.joined(separator: "; ") }
            return (check, "\(migration.name) did not apply again after its rollback; the migrations after it were not applied")
        }
        check.differences += applied.difference(to: try snapshot(), moment: "after applying it again", reference: "after its first application")
        if !check.differences.isEmpty { check.outcome = .differs }
        report(.info("\(migration.name): rollback " + (check.differences.isEmpty ? "exact: the catalog after it is the catalog before the migration"
                                                                              : "differs:\n    " + check.differences.joined(separator: "\n    "))))
        return (check, nil)
    }
}

/// `bellows migrate --test`: what the pending migrations and their tests do on a scratch copy.
public struct MigrationTestReport: Sendable {
    /// `database "app" (PostgreSQL 15.4)`: the target, read in a read-only transaction.
    public var target: String
    /// The scratch server (`postgres (PostgreSQL) 15.4`).
    public var scratchServer: String
    /// Migrations the target's ledger records (not applied again).
    public var alreadyApplied: Int
    /// Migrations applied on the scratch copy.
    public var applied: Int
    public var migrations: [MigrationRehearsalResult]
    /// The pending file the run stopped before (it waits for a plan's contract).
    public var waitingForPlan: PlanWait?

    /// Why the run stopped before the last pending migration (one did not apply again after its rollback).
    public var stopped: String?

    public var testFailures: [MigrationTestFailure] { migrations.flatMap { $0.tests.compactMap(\.failure) } }
    /// Rollback files that failed, or left the catalog different (one line each).
    public var rollbackProblems: [String] { migrations.flatMap { $0.rollback?.problems(of: $0.migration) ?? [] } }
    /// Migrations without a rollback file.
    public var rollbackWarnings: [String] {
        migrations.compactMap { $0.rollback?.outcome == .missing ? "\($0.migration): \($0.rollback?.message ?? "")" : nil }
    }
    public var passed: Bool { testFailures.isEmpty && rollbackProblems.isEmpty && stopped == nil }
}

extension MigrationRunner {
    /// `bellows migrate --test`: copies the target's schema and ledger (pg_dump in a read-only
    /// transaction; the target is never written) into a private scratch cluster, applies the
    /// pending migrations there one by one and runs each one's tests after it, then its
    /// rollback file (the catalog must be as before the migration) and the migration again. The same
    /// refusals as `migrate` (drift, lint errors, dependencies) are thrown as
    /// ``MigrationRefusal``; a migration that fails to apply as ``MigrationError``; failing
    /// tests are in the report.
    public func test(pgBinDirectory: String? = nil) throws -> MigrationTestReport {
        _ = try loadFiles()
        let source = try SourceCopy(conninfo: options.conninfo)
        defer { source.close() }
        report(.info("starting a scratch PostgreSQL cluster…"))
        let cluster = try ScratchCluster.start(binDirectory: pgBinDirectory)
        defer { cluster.destroy() }
        let database = "bellows_migrate_test"
        do {
            let admin = try Connection(cluster.conninfo())
            defer { admin.close() }
            try admin.execute("CREATE DATABASE \(database)")
            let scratch = try Connection(cluster.conninfo(database: database))
            defer { scratch.close() }
            try StateStore.ensure(scratch)
            report(.info("copying the schema of the \(source.name) (read-only)…"))
            let (recorded, roles) = try source.copySchema(into: scratch, pgBinDirectory: pgBinDirectory, createsRoles: true)
            if !roles.isEmpty {
                report(.info("roles the target's schema names (its policies' TO), created NOLOGIN in the scratch cluster: \(roles.joined(separator: ", "))"))
            }
            report(.info("schema copied into \(cluster.serverVersionText); the target's ledger records \(recorded) migration(s)"))
            var scratchOptions = options
            scratchOptions.conninfo = cluster.conninfo(database: database)
            scratchOptions.runnerLockWaitMilliseconds = 0
            let outcome = try MigrationRehearsal(runner: MigrationRunner(project: project, options: scratchOptions, reporter: report),
                                                 report: report).run()
            return MigrationTestReport(target: source.name, scratchServer: cluster.serverVersionText, alreadyApplied: recorded,
                                       applied: outcome.applied, migrations: outcome.results, waitingForPlan: outcome.waiting?.wait,
                                       stopped: outcome.stopped)
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }
}
