import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// Applies the numbered SQL files of `migrations/`, keeps the ledger
/// (`bellows.migrations`), and rolls migrations back.
///
/// - A transactional file runs statement by statement inside one transaction the runner
///   opens (the file's own BEGIN/COMMIT are skipped); its ledger row is written in that same
///   transaction, so a file is either applied and recorded, or absent.
/// - A non-transactional file (a `-- bellows:no-transaction` directive, or a statement such
///   as `CREATE INDEX CONCURRENTLY`) runs statement by statement in autocommit; each applied
///   statement is recorded in `bellows.migration_progress`, so a re-run resumes after it.
/// - A session advisory lock keeps concurrent runners apart; the ledger is read after it is
///   taken, so two runners apply each file exactly once.
///
/// The runner never prints: it reports through `reporter` and returns values or throws
/// ``MigrationRefusal`` (nothing ran), ``MigrationError`` (a statement failed) or
/// ``BellowsError`` (`.usage`, `.database`).
public struct MigrationRunner: Sendable {
    public let project: Project
    public let options: MigrationOptions
    let report: Reporter

    /// Second key of the session advisory lock `(hashtext('bellows'), hashtext(lockKey))`.
    public static let lockKey = "bellows:migrate"

    public init(project: Project, options: MigrationOptions = MigrationOptions(), reporter: @escaping Reporter = { _ in }) {
        self.project = project
        self.options = options
        self.report = reporter
    }

    // MARK: - Public entry points

    /// What `apply(to:acceptDrift:)` would do now. Reads the database, changes nothing (not
    /// even the `bellows` schema), takes no lock. Problems are returned, not thrown.
    public func plan(to target: Int? = nil, acceptDrift: [String] = []) throws -> MigrationPlan {
        let files = try loadFiles()
        return try withConnection(createSchema: false) { connection in
            try makePlan(files: files, state: try readState(connection), to: target, acceptDrift: acceptDrift)
        }
    }

    /// Applies pending migrations in order (up to number `target`), after recording the new
    /// checksum of the drifted files named in `acceptDrift`. With `dryRun`, only checks and
    /// returns what would be applied. Stops at the first failure.
    @discardableResult
    public func apply(to target: Int? = nil, dryRun: Bool = false, acceptDrift: [String] = []) throws -> [AppliedMigration] {
        if dryRun {
            let plan = try plan(to: target, acceptDrift: acceptDrift)
            guard plan.problems.isEmpty else { throw MigrationRefusal(command: "migrate", problems: plan.problems) }
            return plan.pending.map {
                AppliedMigration(name: $0.name, checksum: $0.checksum, transactional: $0.transactional, milliseconds: 0,
                                 statementsRun: $0.statements.count - $0.completedStatements.count,
                                 statementsResumed: $0.completedStatements.count, dryRun: true)
            }
        }
        let files = try loadFiles()
        return try withConnection(createSchema: true) { connection in
            try withRunnerLock(connection, command: "migrate") {
                // Read after taking the lock: a runner that waited sees what the other applied.
                let plan = try makePlan(files: files, state: try readState(connection), to: target, acceptDrift: acceptDrift)
                for note in plan.notes { report(.info(note)) }
                guard plan.problems.isEmpty else {
                    for problem in plan.problems {
                        recordQuietly(connection, migration: problem.migration, command: "migrate", outcome: "refused",
                                      details: ["gate": .string(problem.gate), "message": .string(problem.message)])
                    }
                    throw MigrationRefusal(command: "migrate", problems: plan.problems)
                }
                for drift in plan.acceptedDrift { try accept(drift, connection) }
                var applied: [AppliedMigration] = []
                for migration in plan.pending {
                    applied.append(try run(migration, connection))
                }
                return applied
            }
        }
    }

    /// Every migration file and ledger row: applied, pending, drifted, partial, missing file.
    public func status() throws -> [MigrationStatus] {
        let files = try loadFiles()
        return try withConnection(createSchema: false) { connection in
            let state = try readState(connection)
            var lines: [MigrationStatus] = []
            for file in files {
                var line = MigrationStatus(
                    name: file.name, number: file.ref.number, state: .pending, path: file.displayPath,
                    description: file.analysis.header.description, fileChecksum: file.checksum,
                    transactional: nil, hasRollbackFile: file.ref.rollbackPath != nil)
                if let row = state.ledger[file.name] {
                    line.state = row.checksum == file.checksum ? .applied : .drifted
                    line.appliedChecksum = row.checksum
                    line.appliedAt = row.appliedAt
                    line.appliedBy = row.appliedBy
                    line.durationMilliseconds = row.durationMilliseconds
                    line.transactional = row.transactional
                } else if let progress = state.progress[file.name], !progress.isEmpty {
                    line.state = progress.contains { $0.checksum != file.checksum } ? .drifted : .partial
                    line.completedStatements = progress.count
                    line.totalStatements = file.statements.count
                    line.transactional = false
                } else {
                    line.transactional = file.analysis.transactionMode.isTransactional
                }
                lines.append(line)
            }
            let names = Set(files.map(\.name))
            for row in state.ledger.values where !names.contains(row.name) {
                lines.append(MigrationStatus(
                    name: row.name, number: PlanNaming.sequenceNumber(of: row.name), state: .missingFile, path: nil,
                    description: row.description, fileChecksum: nil, appliedChecksum: row.checksum, appliedAt: row.appliedAt,
                    appliedBy: row.appliedBy, durationMilliseconds: row.durationMilliseconds, transactional: row.transactional,
                    hasRollbackFile: FileManager.default.fileExists(atPath: rollbackPath(for: row.name))))
            }
            return lines.sorted { ($0.number ?? Int.max, $0.name) < ($1.number ?? Int.max, $1.name) }
        }
    }

    // MARK: - Files

    /// A migration file, read and analysed.
    struct LoadedFile: Sendable {
        var ref: MigrationFileRef
        var checksum: String
        var analysis: MigrationAnalysis
        var statements: [MigrationStatement]
        var name: String { ref.name }
        var displayPath: String { MigrationRunner.display(ref.path) }
    }

    /// `./migrations/x.sql` → `migrations/x.sql`.
    static func display(_ path: String) -> String {
        path.hasPrefix("./") ? String(path.dropFirst(2)) : path
    }

    func loadFiles() throws -> [LoadedFile] {
        try project.migrationFiles().map { ref in try Self.load(ref) }
            .sorted { ($0.ref.number ?? Int.max, $0.name) < ($1.ref.number ?? Int.max, $1.name) }
    }

    static func load(_ ref: MigrationFileRef) throws -> LoadedFile {
        let (text, checksum) = try read(ref.path)
        let analysis = MigrationFile.analyze(text)
        return LoadedFile(ref: ref, checksum: checksum, analysis: analysis, statements: statements(of: analysis))
    }

    static func read(_ path: String) throws -> (text: String, checksum: String) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BellowsError.usage("cannot read \(display(path))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw BellowsError.usage("\(display(path)) is not UTF-8 text")
        }
        return (text, SHA256.hex([UInt8](data)))
    }

    static func statements(of analysis: MigrationAnalysis) -> [MigrationStatement] {
        analysis.executableStatements.enumerated().map { index, statement in
            MigrationStatement(index: index, line: statement.line, column: statement.column, sql: statement.text)
        }
    }

    func rollbackPath(for name: String) -> String {
        ((project.migrationsDirectory as NSString).appendingPathComponent("rollback") as NSString)
            .appendingPathComponent(name + ".sql")
    }

    // MARK: - Database state

    struct LedgerRow: Sendable {
        var name: String
        var checksum: String
        var appliedBy: String
        var appliedAt: String
        var durationMilliseconds: Int
        var transactional: Bool
        var description: String?
    }

    struct ProgressRow: Sendable {
        var name: String
        var checksum: String
        var index: Int
    }

    struct DatabaseState: Sendable {
        var ledger: [String: LedgerRow] = [:]
        var progress: [String: [ProgressRow]] = [:]
        var planPhases: [String: Phase] = [:]
    }

    /// The ledger, progress and plan phases; empty when the `bellows` schema does not exist.
    func readState(_ connection: Connection) throws -> DatabaseState {
        var state = DatabaseState()
        let present = try connection.query("""
            SELECT to_regclass('bellows.migrations') IS NOT NULL AS ledger,
                   to_regclass('bellows.migration_progress') IS NOT NULL AS progress,
                   to_regclass('bellows.plans') IS NOT NULL AS plans,
                   EXISTS (SELECT FROM pg_attribute WHERE attrelid = to_regclass('bellows.migrations')
                           AND attname = 'description' AND NOT attisdropped) AS described
            """)
        guard let flags = present.first else { return state }
        if try flags.bool("ledger") {
            let description = try flags.bool("described") ? "description" : "NULL::text AS description"
            for row in try connection.query("""
                SELECT name, checksum, applied_by, duration_ms, transactional, \(description),
                       to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS applied_at
                FROM bellows.migrations ORDER BY name
                """) {
                let entry = LedgerRow(name: try row.string("name"), checksum: try row.string("checksum"),
                                      appliedBy: try row.string("applied_by"), appliedAt: try row.string("applied_at"),
                                      durationMilliseconds: try row.int("duration_ms"), transactional: try row.bool("transactional"),
                                      description: try row.optionalString("description"))
                state.ledger[entry.name] = entry
            }
        }
        if try flags.bool("progress") {
            for row in try connection.query("SELECT name, checksum, statement_index FROM bellows.migration_progress ORDER BY name, statement_index") {
                let entry = ProgressRow(name: try row.string("name"), checksum: try row.string("checksum"), index: try row.int("statement_index"))
                state.progress[entry.name, default: []].append(entry)
            }
        }
        if try flags.bool("plans") {
            for row in try connection.query("SELECT id, phase FROM bellows.plans") {
                state.planPhases[try row.string("id")] = Phase(rawValue: try row.string("phase")) ?? .planned
            }
        }
        return state
    }

    // MARK: - Planning

    func makePlan(files: [LoadedFile], state: DatabaseState, to target: Int?, acceptDrift: [String]) throws -> MigrationPlan {
        let stems = files.map(\.name)
        var accepted = Set<String>()
        for reference in acceptDrift {
            guard let name = Engine.match(reference, in: stems) else {
                throw BellowsError.usage("--accept-drift \(reference): no such migration file in \(Self.display(project.migrationsDirectory))")
            }
            accepted.insert(name)
        }
        var plan = MigrationPlan(pending: [], acceptedDrift: [], problems: [], notes: [], appliedCount: 0)
        var drifted = Set<String>()
        for file in files {
            if let row = state.ledger[file.name] {
                plan.appliedCount += 1
                guard row.checksum != file.checksum else { continue }
                drifted.insert(file.name)
                let drift = DriftedMigration(name: file.name, path: file.displayPath, recordedChecksum: row.checksum,
                                             currentChecksum: file.checksum, partial: false)
                if accepted.contains(file.name) {
                    plan.acceptedDrift.append(drift)
                } else {
                    plan.problems.append(MigrationProblem(
                        gate: "drift", migration: file.name,
                        message: "\(file.displayPath) changed since it was applied (ledger checksum \(row.checksum.prefix(12)), file \(file.checksum.prefix(12))); the database does not have what the file now says",
                        remedy: "restore the file as it was applied and put the change in a new migration, or, if the edit changes nothing in the database (a comment, formatting), `bellows migrate --accept-drift \(file.name)`"))
                }
            } else if let progress = state.progress[file.name], let recorded = progress.first(where: { $0.checksum != file.checksum }) {
                drifted.insert(file.name)
                let drift = DriftedMigration(name: file.name, path: file.displayPath, recordedChecksum: recorded.checksum,
                                             currentChecksum: file.checksum, partial: true)
                if accepted.contains(file.name) {
                    plan.acceptedDrift.append(drift)
                } else {
                    plan.problems.append(MigrationProblem(
                        gate: "drift", migration: file.name,
                        message: "\(file.displayPath) was partly applied (\(progress.count) statement(s), outside a transaction) from a different version of the file; resuming by position could skip or repeat the wrong statements",
                        remedy: "restore the file to finish it as it was, or `bellows migrate --accept-drift \(file.name)` to forget that progress and run the new file from its first statement (its statements must be idempotent, e.g. IF NOT EXISTS)"))
                }
            }
        }
        for name in accepted.subtracting(drifted).sorted() {
            plan.notes.append("--accept-drift \(name): the file matches its ledger checksum; nothing to accept")
        }

        let lastApplied = files.lastIndex { state.ledger[$0.name] != nil }
        let planStems = project.planFiles().map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        for (position, file) in files.enumerated() where state.ledger[file.name] == nil {
            if let target {
                guard let number = file.ref.number, number <= target else { continue }
            }
            guard file.ref.number != nil else {
                plan.problems.append(MigrationProblem(
                    gate: "name", migration: file.name,
                    message: "\(file.displayPath) does not start with a sequence number, so its place in the order is unknown",
                    remedy: "rename it NNN_description.sql, numbered after the last migration"))
                continue
            }
            let partial = (state.progress[file.name] ?? []).filter { $0.checksum == file.checksum }
            let outOfOrder = lastApplied.map { position < $0 } ?? false
            let mode = file.analysis.transactionMode
            var reason: String?
            if case .nonTransactional(let why) = mode { reason = why }
            plan.pending.append(PendingMigration(
                name: file.name, number: file.ref.number, path: file.displayPath, checksum: file.checksum,
                description: file.analysis.header.description, dependencies: file.analysis.header.dependencies,
                transactional: mode.isTransactional, nonTransactionalReason: reason,
                strippedTransactionControl: file.analysis.explicitTransactionControl, statements: file.statements,
                completedStatements: mode.isTransactional ? [] : Set(partial.map(\.index)), outOfOrder: outOfOrder))
            if outOfOrder, let lastApplied {
                plan.notes.append("\(file.name) is applied out of order: \(files[lastApplied].name) is already applied")
            }
            plan.problems += dependencyProblems(file, position: position, files: files, state: state, planStems: planStems)
        }
        return plan
    }

    /// `-- Dependencies:` of a pending file: migrations must exist and come earlier; `plan:ID`
    /// must be contracted.
    func dependencyProblems(_ file: LoadedFile, position: Int, files: [LoadedFile], state: DatabaseState,
                            planStems: [String]) -> [MigrationProblem] {
        var problems: [MigrationProblem] = []
        let stems = files.map(\.name)
        for dependency in file.analysis.header.dependencies {
            if dependency.lowercased().hasPrefix("plan:") {
                let reference = String(dependency.dropFirst(5)).trimmingCharacters(in: .whitespaces)
                guard let id = Engine.match(reference, in: planStems) ?? (state.planPhases[reference] != nil ? reference : nil) else {
                    problems.append(MigrationProblem(
                        gate: "dependency", migration: file.name,
                        message: "depends on plan \(reference), which is neither a plan file in \(Self.display(project.plansDirectory)) nor a plan in bellows.plans",
                        remedy: "fix the `-- Dependencies:` header"))
                    continue
                }
                let phase = state.planPhases[id] ?? .planned
                if phase != .contracted {
                    problems.append(MigrationProblem(
                        gate: "dependency", migration: file.name,
                        message: "depends on plan \(id), which must be contracted first; it is \(phase.rawValue)",
                        remedy: "`bellows advance \(id) --through contract`, then `bellows migrate`"))
                }
                continue
            }
            if let id = Engine.match(dependency, in: stems), let index = stems.firstIndex(of: id) {
                if index == position {
                    problems.append(MigrationProblem(gate: "dependency", migration: file.name, message: "depends on itself",
                                                     remedy: "remove \(dependency) from its `-- Dependencies:` header"))
                } else if index > position {
                    problems.append(MigrationProblem(
                        gate: "order", migration: file.name,
                        message: "depends on \(id), which is numbered after it and so would be applied later",
                        remedy: "renumber the files so that \(id) comes first, or fix the `-- Dependencies:` header"))
                }
                continue
            }
            if Engine.match(dependency, in: Array(state.ledger.keys).sorted()) != nil { continue }
            problems.append(MigrationProblem(
                gate: "dependency", migration: file.name,
                message: "depends on \(dependency), which is neither a file in \(Self.display(project.migrationsDirectory)) nor an applied migration",
                remedy: "add the missing migration, or fix the `-- Dependencies:` header (`plan:ID` for a plan)"))
        }
        return problems
    }

    // MARK: - Running

    func run(_ migration: PendingMigration, _ connection: Connection) throws -> AppliedMigration {
        defer { resetSession(connection) }
        if migration.transactional {
            report(.info("\(migration.name): applying in one transaction (\(migration.statements.count) statement(s))"
                         + (migration.strippedTransactionControl ? "; the file's own BEGIN/COMMIT are skipped" : "")))
            return try runTransactional(migration, connection)
        }
        let resumed = migration.completedStatements.count
        report(.info("\(migration.name): applying outside a transaction, statement by statement (\(migration.nonTransactionalReason ?? "non-transactional"))"
                     + (resumed > 0 ? "; resuming after \(resumed) statement(s) applied by an earlier run" : "")
                     + (migration.strippedTransactionControl ? "; the file's own BEGIN/COMMIT are skipped" : "")))
        return try runNonTransactional(migration, connection)
    }

    func runTransactional(_ migration: PendingMigration, _ connection: Connection) throws -> AppliedMigration {
        let policy = options.lockPolicy
        let started = Date()
        var attempt = 0
        while true {
            attempt += 1
            var failing: MigrationStatement?
            do {
                try connection.execute("BEGIN")
                for statement in migration.statements {
                    failing = statement
                    try connection.executeScript(statement.sql)
                    reportNotices(connection, migration.path, statement)
                }
                failing = nil
                let milliseconds = Date().timeIntervalSince(started) * 1000
                try insertLedgerRow(connection, migration, milliseconds: Int(milliseconds.rounded()))
                try record(connection, migration: migration.name, command: "migrate", outcome: "succeeded", details: [
                    "checksum": .string(migration.checksum), "transactional": true, "duration_ms": .int(Int(milliseconds.rounded())),
                    "statements": .int(migration.statements.count), "attempts": .int(attempt)])
                try connection.execute("COMMIT")
                return AppliedMigration(name: migration.name, checksum: migration.checksum, transactional: true,
                                        milliseconds: milliseconds, statementsRun: migration.statements.count,
                                        statementsResumed: 0, dryRun: false)
            } catch let error as PostgresError {
                if connection.isOpen, connection.inTransaction { _ = try? connection.execute("ROLLBACK") }
                if Self.isRetryable(error), attempt <= policy.retries, connection.isOpen {
                    waitBeforeRetry(attempt: attempt, policy: policy, statement: failing, connection)
                    continue
                }
                let failure = migrationError(migration.name, file: migration.path, statement: failing, error: error,
                                             transactional: true, rollback: false, completed: 0, total: migration.statements.count)
                recordFailure(connection, failure, command: "migrate")
                throw failure
            }
        }
    }

    func runNonTransactional(_ migration: PendingMigration, _ connection: Connection) throws -> AppliedMigration {
        let started = Date()
        var done = migration.completedStatements
        var ran = 0
        for statement in migration.statements {
            let parsed = StatementSplitter.split(statement.sql).first
            let isSetting = parsed.map(MigrationStatements.isSessionSetting) ?? false
            if done.contains(statement.index) && !isSetting { continue }
            let statementStarted = Date()
            report(.info("\(migration.name): statement \(statement.index + 1)/\(migration.statements.count) at line \(statement.line): "
                         + (statement.sql.split(separator: "\n").first.map(String.init) ?? "")))
            do {
                try runStandalone(statement, parsed: parsed, migration: migration.name, file: migration.path, connection)
            } catch let error as PostgresError {
                let failure = migrationError(migration.name, file: migration.path, statement: statement, error: error,
                                             transactional: false, rollback: false, completed: done.count,
                                             total: migration.statements.count)
                recordFailure(connection, failure, command: "migrate")
                throw failure
            }
            if !done.contains(statement.index) {
                let milliseconds = Int((Date().timeIntervalSince(statementStarted) * 1000).rounded())
                try database {
                    try connection.execute("""
                        INSERT INTO bellows.migration_progress (name, checksum, statement_index, statement_line, duration_ms, applied_by)
                        VALUES ($1, $2, $3, $4, $5, $6)
                        """, [migration.name, migration.checksum, statement.index, statement.line, milliseconds, options.actor])
                }
                done.insert(statement.index)
                ran += 1
            }
        }
        try database {
            try connection.withTransaction {
                let milliseconds = try connection.query("""
                    SELECT coalesce(sum(duration_ms), 0)::bigint AS ms FROM bellows.migration_progress WHERE name = $1 AND checksum = $2
                    """, [migration.name, migration.checksum]).first?.int("ms") ?? 0
                try insertLedgerRow(connection, migration, milliseconds: milliseconds, transactional: false)
                try connection.execute("DELETE FROM bellows.migration_progress WHERE name = $1", [migration.name])
                try record(connection, migration: migration.name, command: "migrate", outcome: "succeeded", details: [
                    "checksum": .string(migration.checksum), "transactional": false, "duration_ms": .int(milliseconds),
                    "statements": .int(migration.statements.count), "resumed_after": .int(migration.completedStatements.count)])
            }
        }
        return AppliedMigration(name: migration.name, checksum: migration.checksum, transactional: false,
                                milliseconds: Date().timeIntervalSince(started) * 1000, statementsRun: ran,
                                statementsResumed: migration.completedStatements.count, dryRun: false)
    }

    /// Runs one statement outside a transaction block, retrying after lock timeouts. A
    /// concurrent index build is made safe to retry: an INVALID index of the same name (left
    /// by an interrupted build) is dropped first, and one this build leaves INVALID is dropped.
    func runStandalone(_ statement: MigrationStatement, parsed: SQLStatement?, migration: String, file: String,
                       _ connection: Connection) throws {
        let policy = options.lockPolicy
        let build = parsed.flatMap(MigrationStatements.concurrentIndexBuild)
        var attempt = 0
        while true {
            attempt += 1
            var before: [Int] = []
            if let build { before = try prepare(build, migration: migration, connection) }
            do {
                try connection.executeScript(statement.sql)
                reportNotices(connection, file, statement)
                return
            } catch {
                if let build { dropInvalidIndexes(build, except: before, connection) }
                guard Self.isRetryable(error), attempt <= policy.retries, connection.isOpen else { throw error }
                waitBeforeRetry(attempt: attempt, policy: policy, statement: statement, connection)
            }
        }
    }

    /// Drops an INVALID index named like the one `build` creates, on the same table; returns
    /// the indexes the table has before the build.
    func prepare(_ build: ConcurrentIndexBuild, migration: String, _ connection: Connection) throws -> [Int] {
        if let name = build.indexName {
            let existing = try connection.query("""
                SELECT n.nspname AS schema, i.indisvalid AS valid
                FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relname = $1 AND i.indrelid = to_regclass($2)
                """, [name, build.table.quoted]).first
            if let existing, try !existing.bool("valid") {
                let qualified = SQLQuote.qualified(schema: try existing.string("schema"), name: name)
                report(.info("\(migration): index \(name) on \(build.table) is INVALID (an earlier build failed or was interrupted): dropping it before building it again"))
                try connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(qualified)")
            }
        }
        var oids: [Int] = []
        for row in try connection.query("SELECT indexrelid::bigint AS oid FROM pg_index WHERE indrelid = to_regclass($1)", [build.table.quoted]) {
            oids.append(try row.int("oid"))
        }
        return oids
    }

    /// After a failed concurrent build: drops the INVALID indexes the build left on the table.
    func dropInvalidIndexes(_ build: ConcurrentIndexBuild, except before: [Int], _ connection: Connection) {
        guard connection.isOpen, !connection.inTransaction else { return }
        let leftovers = (try? connection.query("""
            SELECT n.nspname AS schema, c.relname AS name
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE i.indrelid = to_regclass($1) AND NOT i.indisvalid AND NOT (i.indexrelid::bigint = ANY ($2::bigint[]))
            """, [build.table.quoted, "{" + before.map(String.init).joined(separator: ",") + "}"])) ?? []
        for row in leftovers {
            guard let schema = try? row.string("schema"), let name = try? row.string("name") else { continue }
            report(.info("dropping the INVALID index \(name) the failed build left behind"))
            _ = try? connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(SQLQuote.qualified(schema: schema, name: name))")
        }
    }

    func insertLedgerRow(_ connection: Connection, _ migration: PendingMigration, milliseconds: Int, transactional: Bool = true) throws {
        try connection.execute("""
            INSERT INTO bellows.migrations (name, checksum, applied_by, applied_at, duration_ms, transactional, description)
            VALUES ($1, $2, $3, clock_timestamp(), $4, $5, $6)
            """, [migration.name, migration.checksum, options.actor, milliseconds, transactional, migration.description])
    }

    /// Records the new checksum of a drifted file (or forgets the progress of a partly
    /// applied one), with an `accept-drift` event.
    func accept(_ drift: DriftedMigration, _ connection: Connection) throws {
        try database {
            try connection.withTransaction {
                if drift.partial {
                    try connection.execute("DELETE FROM bellows.migration_progress WHERE name = $1", [drift.name])
                } else {
                    try connection.execute("UPDATE bellows.migrations SET checksum = $2 WHERE name = $1 AND checksum = $3",
                                           [drift.name, drift.currentChecksum, drift.recordedChecksum])
                }
                try record(connection, migration: drift.name, command: "accept-drift", outcome: "approved", details: [
                    "from_checksum": .string(drift.recordedChecksum), "to_checksum": .string(drift.currentChecksum),
                    "partial": .bool(drift.partial)])
            }
        }
        report(.info(drift.partial
            ? "\(drift.name): drift accepted; the progress of the earlier partial run is forgotten and the file runs from its first statement"
            : "\(drift.name): drift accepted; the ledger now records checksum \(drift.currentChecksum.prefix(12))"))
    }

    // MARK: - Session, lock, errors

    func withConnection<T>(createSchema: Bool, _ body: (Connection) throws -> T) throws -> T {
        let connection: Connection
        do {
            connection = try Connection(options.conninfo)
            try ServerVersion.requireSupported(connection)
            try applySessionSettings(connection)
            if createSchema { try StateStore.ensure(connection) }
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
        defer { connection.close() }
        do {
            return try body(connection)
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// The runner's session: its application name and `lock_timeout`.
    func applySessionSettings(_ connection: Connection) throws(PostgresError) {
        try connection.execute("SELECT set_config('application_name', $1, false), set_config('lock_timeout', $2, false)",
                               ["bellows migrate", "\(max(0, options.lockTimeoutMilliseconds))ms"])
    }

    /// After each file: whatever the file SET (search_path, role, timeouts) does not leak
    /// into the next one.
    func resetSession(_ connection: Connection) {
        guard connection.isOpen else { return }
        if connection.inTransaction { _ = try? connection.execute("ROLLBACK") }
        _ = try? connection.execute("RESET ALL")
        _ = try? applySessionSettings(connection)
    }

    /// Runs `body` holding the session advisory lock that keeps runners apart, waiting up to
    /// `runnerLockWaitMilliseconds` for another runner to finish.
    func withRunnerLock<T>(_ connection: Connection, command: String, _ body: () throws -> T) throws -> T {
        try acquireRunnerLock(connection, command: command)
        defer { releaseRunnerLock(connection) }
        return try body()
    }

    func acquireRunnerLock(_ connection: Connection, command: String) throws {
        let locked = try connection.query("SELECT pg_try_advisory_lock(hashtext('bellows'), hashtext($1)) AS locked", [Self.lockKey])
        if try locked.first?.bool("locked") == true { return }
        let holder = lockHolder(connection)
        let wait = options.runnerLockWaitMilliseconds
        let refusal = MigrationRefusal(command: command, problems: [MigrationProblem(
            gate: "lock", migration: "*",
            message: "\(holder) holds the migration lock (another `bellows migrate` or rollback is running)"
                + (wait > 0 ? " and did not release it within \(Double(wait) / 1000) s" : ""),
            remedy: "wait for it to finish and run the command again; `bellows migrations status` shows where it stands")])
        guard wait > 0 else { throw refusal }
        report(.info("waiting up to \(Double(wait) / 1000) s for \(holder), which holds the migration lock"))
        try connection.execute("SELECT set_config('lock_timeout', $1, false)", ["\(wait)ms"])
        let failure: PostgresError?
        do {
            try connection.execute("SELECT pg_advisory_lock(hashtext('bellows'), hashtext($1))", [Self.lockKey])
            failure = nil
        } catch {
            failure = error
        }
        try applySessionSettings(connection)
        if let failure {
            if failure.sqlState == .lockNotAvailable { throw refusal }
            throw failure
        }
    }

    func releaseRunnerLock(_ connection: Connection) {
        _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext('bellows'), hashtext($1))", [Self.lockKey])
    }

    /// `pid 123 (alice, bellows migrate, since 12:00:01)`.
    func lockHolder(_ connection: Connection) -> String {
        let row = try? connection.query("""
            SELECT a.pid, a.usename, a.application_name, to_char(a.backend_start, 'HH24:MI:SS') AS since
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid = hashtext('bellows')::oid AND l.objid = hashtext($1)::oid
            LIMIT 1
            """, [Self.lockKey]).first
        guard let row, let pid = try? row.int("pid") else { return "another session" }
        let user = (try? row.optionalString("usename")) ?? nil
        let application = (try? row.optionalString("application_name")) ?? nil
        let since = (try? row.optionalString("since")) ?? nil
        return "pid \(pid) (" + [user, application, since.map { "connected since \($0)" }].compactMap { $0 }.filter { !$0.isEmpty }
            .joined(separator: ", ") + ")"
    }

    static func isRetryable(_ error: PostgresError) -> Bool {
        error.sqlState == .lockNotAvailable || error.sqlState == .deadlockDetected
    }

    func waitBeforeRetry(attempt: Int, policy: LockPolicy, statement: MigrationStatement?, _ connection: Connection) {
        let target = statement.flatMap { StatementSplitter.split($0.sql).first }.flatMap(MigrationStatements.lockTarget)
        let blockers = target.map { LockSafety.blockers(connection, table: $0.quoted) } ?? []
        let delay = policy.delay(beforeRetry: attempt)
        report(.lockWait(attempt: attempt, of: policy.retries, retryInMilliseconds: delay, blockers: blockers))
        Thread.sleep(forTimeInterval: Double(delay) / 1000)
    }

    func reportNotices(_ connection: Connection, _ file: String, _ statement: MigrationStatement) {
        for notice in connection.takeNotices() {
            report(.info("\(file):\(statement.line):\(statement.column): \(notice.severity): \(notice.message)"))
        }
    }

    func migrationError(_ migration: String, file: String, statement: MigrationStatement?, error: PostgresError,
                        transactional: Bool, rollback: Bool, completed: Int, total: Int) -> MigrationError {
        var failure = MigrationError(
            migration: migration, file: file, line: statement?.line ?? 1, column: statement?.column ?? 1,
            errorLine: nil, errorColumn: nil, statementIndex: statement?.index, statement: statement?.sql,
            sqlState: error.sqlState?.rawValue, message: error.message, detail: error.detail, hint: error.hint,
            context: error.context, transactional: transactional, isRollback: rollback,
            completedStatements: completed, totalStatements: total, underlying: error)
        if statement == nil { failure.message += " (while recording the migration)" }
        if let statement, let position = error.position, error.statement == statement.sql {
            let located = MigrationError.filePosition(of: position, in: statement.sql, line: statement.line, column: statement.column)
            failure.errorLine = located.line
            failure.errorColumn = located.column
        }
        return failure
    }

    /// Appends to the audit log, under `migration:NAME`.
    func record(_ connection: Connection, migration: String, command: String, outcome: String, details: [String: JSONValue]) throws {
        try StateStore.record(connection, plan: "migration:\(migration)", actor: options.actor, command: command,
                              from: nil, to: nil, outcome: outcome, details: details)
    }

    func recordQuietly(_ connection: Connection, migration: String, command: String, outcome: String, details: [String: JSONValue]) {
        guard connection.isOpen else { return }
        if connection.inTransaction { _ = try? connection.execute("ROLLBACK") }
        _ = try? record(connection, migration: migration, command: command, outcome: outcome, details: details)
    }

    func recordFailure(_ connection: Connection, _ failure: MigrationError, command: String) {
        recordQuietly(connection, migration: failure.migration, command: command, outcome: "failed", details: [
            "file": .string(failure.file), "line": .int(failure.errorLine ?? failure.line),
            "column": .int(failure.errorColumn ?? failure.column), "sqlstate": .optional(failure.sqlState),
            "error": .string(failure.message), "completed_statements": .int(failure.completedStatements)])
    }

    /// Runs bookkeeping statements, turning a PostgreSQL error into `BellowsError.database`.
    @discardableResult
    func database<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as PostgresError { throw BellowsError.database(error) }
    }
}
