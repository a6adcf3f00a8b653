import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// Applies the numbered SQL files of `migrations/`, keeps the ledger
/// (`bellows.migrations`), and rolls migrations back.
///
/// - A transactional file runs statement by statement inside one transaction (opened by the
///   file's own leading BEGIN when it has one, options kept); its ledger row is written in
///   that same transaction, so a file is either applied and recorded, or absent.
/// - A non-transactional file (a `-- bellows:no-transaction` directive, or a statement such
///   as `CREATE INDEX CONCURRENTLY`) runs statement by statement: each statement that can run
///   in a transaction (or each explicit BEGIN … COMMIT block) commits together with its row in
///   `bellows.migration_progress`, so a re-run resumes after it and never repeats it.
/// - A file the runner cannot run exactly as written (a NUL byte, a ROLLBACK, a COMMIT in the
///   middle, `COPY … FROM STDIN`, no statement) is refused before anything runs
///   (``MigrationFile/problems(_:analysis:)``).
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
            try withRunnerLock(connection, command: "migrate") { control in
                try waitForOrphans(control, command: "migrate", except: connection.backendPID)
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
                for renamed in plan.renamed { try rename(renamed, connection) }
                var applied: [AppliedMigration] = []
                for migration in plan.pending {
                    if options.interrupt?.isTriggered == true {
                        throw MigrationInterrupted(migration: nil, state: "\(applied.count) migration(s) applied, \(migration.name) and the later ones not started")
                    }
                    applied.append(try run(migration, connection, lock: control))
                }
                if let wait = plan.waitingForPlan {
                    recordQuietly(connection, migration: wait.migration, command: "migrate", outcome: "waiting",
                                  details: ["plan": .string(wait.plan), "phase": .string(wait.phase), "message": .string(wait.message)])
                    report(.info("\(wait.message): stopping before it"))
                    throw MigrationWaitingForPlan(wait: wait, applied: applied)
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
                    line.state = state.rollingBack.contains(file.name) ? .rollbackPartial
                        : row.checksum == file.checksum ? .applied : .drifted
                    line.appliedChecksum = row.checksum
                    line.appliedAt = row.appliedAt
                    line.appliedBy = row.appliedBy
                    line.durationMilliseconds = row.durationMilliseconds
                    line.transactional = row.transactional
                } else if let row = Self.renamedRow(of: file, state: state, files: files) {
                    line.state = .renamed
                    line.renamedFrom = row.name
                    line.appliedChecksum = row.checksum
                    line.appliedAt = row.appliedAt
                    line.appliedBy = row.appliedBy
                    line.durationMilliseconds = row.durationMilliseconds
                    line.transactional = row.transactional
                } else if !file.problems.isEmpty {
                    line.state = .invalid
                    line.problem = file.problems.first.map { "\(file.displayPath):\($0.line):\($0.column): \($0.message)" }
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
            let renamed = Set(lines.compactMap(\.renamedFrom))
            for row in state.ledger.values where !names.contains(row.name) && !renamed.contains(row.name) {
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
        /// Why the runner must not run the file at all.
        var problems: [MigrationFileProblem]
        var name: String { ref.name }
        var displayPath: String { MigrationRunner.display(ref.path) }
    }

    /// `./migrations/x.sql` → `migrations/x.sql`.
    static func display(_ path: String) -> String {
        path.hasPrefix("./") ? String(path.dropFirst(2)) : path
    }

    func loadFiles() throws -> [LoadedFile] {
        try project.requireExists()
        return try project.migrationFiles().map { ref in try Self.load(ref) }
            .sorted { ($0.ref.number ?? Int.max, $0.name) < ($1.ref.number ?? Int.max, $1.name) }
    }

    /// Reads and analyses a file. A file that cannot be read as UTF-8 text is loaded with
    /// that problem (so `migrations status` can show it and `migrate` refuses it).
    static func load(_ ref: MigrationFileRef) throws -> LoadedFile {
        guard let data = FileManager.default.contents(atPath: ref.path) else {
            throw BellowsError.usage("cannot read \(display(ref.path))")
        }
        let checksum = SHA256.hex([UInt8](data))
        guard let text = String(data: data, encoding: .utf8) else {
            let analysis = MigrationFile.analyze("")
            return LoadedFile(ref: ref, checksum: checksum, analysis: analysis, statements: [], problems: [
                MigrationFileProblem(rule: "io-error", line: 1, column: 1, message: "the file is not UTF-8 text")])
        }
        let analysis = MigrationFile.analyze(text)
        return LoadedFile(ref: ref, checksum: checksum, analysis: analysis, statements: statements(of: analysis),
                          problems: MigrationFile.problems(text, analysis: analysis))
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

    /// The statements the runner sends: the file's own BEGIN/COMMIT become the `opening` and
    /// `block` of the statements between them.
    static func statements(of analysis: MigrationAnalysis) -> [MigrationStatement] {
        var result: [MigrationStatement] = []
        var block: (id: Int, opening: String)?
        var blocks = 0
        for s in analysis.statements {
            if MigrationFile.isTransactionStart(s) {
                blocks += 1
                block = (blocks, s.text)
            } else if MigrationFile.isTransactionEnd(s) {
                block = nil
            } else {
                result.append(MigrationStatement(index: result.count, line: s.line, column: s.column, sql: s.text,
                                                 block: block?.id, opening: block?.opening))
            }
        }
        return result
    }

    /// The file's problems as refusals: `path:line:column: message`.
    static func refusals(_ problems: [MigrationFileProblem], migration: String, path: String) -> [MigrationProblem] {
        problems.map { problem in
            MigrationProblem(gate: "file", migration: migration, message: "\(path):\(problem.line):\(problem.column): \(problem.message)",
                             remedy: "fix the file (`bellows lint` reports it as \(problem.rule)); nothing of it ran")
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
        /// Recorded before a statement that cannot run in a transaction (duration -1): the
        /// run that started it was killed before it could tell whether it finished.
        var started: Bool
    }

    struct DatabaseState: Sendable {
        var ledger: [String: LedgerRow] = [:]
        var progress: [String: [ProgressRow]] = [:]
        var planPhases: [String: Phase] = [:]
        /// Migrations whose rollback outside a transaction started and did not finish.
        var rollingBack: Set<String> = []
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
            for row in try connection.query("SELECT name, checksum, statement_index, duration_ms FROM bellows.migration_progress ORDER BY name, statement_index") {
                let entry = ProgressRow(name: try row.string("name"), checksum: try row.string("checksum"), index: try row.int("statement_index"),
                                        started: try row.int("duration_ms") < 0)
                if entry.name.hasPrefix(Self.rollbackMarker) {
                    state.rollingBack.insert(String(entry.name.dropFirst(Self.rollbackMarker.count)))
                } else {
                    state.progress[entry.name, default: []].append(entry)
                }
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
        var plan = MigrationPlan(pending: [], acceptedDrift: [], problems: [], notes: [], appliedCount: 0, renamed: [])
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

        if let target, !files.contains(where: { $0.ref.number == target }),
           !state.ledger.keys.contains(where: { PlanNaming.sequenceNumber(of: $0) == target }) {
            let numbers = files.compactMap(\.ref.number)
            throw BellowsError.usage("--to \(target): no migration is numbered \(String(format: "%03d", target))"
                + (numbers.isEmpty ? "" : " (the files are numbered \(String(format: "%03d", numbers.min() ?? 0))–\(String(format: "%03d", numbers.max() ?? 0)))")
                + "; name the last migration to apply")
        }
        var numbered: [Int: [String]] = [:]
        for file in files { if let number = file.ref.number { numbered[number, default: []].append(file.name) } }
        for name in state.rollingBack.sorted() where state.ledger[name] != nil {
            plan.problems.append(MigrationProblem(
                gate: "rollback", migration: name,
                message: "the rollback of \(name) runs outside a transaction and failed part-way: the database is somewhere between \(name) and its absence, while the ledger still lists it as applied",
                remedy: "fix the cause and run `bellows migrate rollback \(name)` again (its statements must be safe to repeat: IF EXISTS)"))
        }
        let lastApplied = files.lastIndex { state.ledger[$0.name] != nil }
        let lintErrors = Self.lintErrors(ProjectCheck.lint(project: project), files: files)
        let planStems = project.planFiles().map { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension }
        for (position, file) in files.enumerated() where state.ledger[file.name] == nil {
            if let target {
                guard let number = file.ref.number, number <= target else { continue }
            }
            // A file that waits for a plan not contracted yet (on a fresh database, always):
            // the files before it run, the run stops there — what `--to` would do by hand.
            if state.progress[file.name] == nil, let wait = planWait(file, state: state, planStems: planStems) {
                plan.waitingForPlan = wait
                break
            }
            if let row = Self.renamedRow(of: file, state: state, files: files) {
                plan.appliedCount += 1
                plan.renamed.append(MigrationRename(from: row.name, to: file.name, checksum: file.checksum))
                continue
            }
            if let problem = renameProblem(file, state: state, files: files) {
                plan.problems.append(problem)
                continue
            }
            if let number = file.ref.number, let sharing = numbered[number], sharing.count > 1 {
                plan.problems.append(MigrationProblem(
                    gate: "name", migration: file.name,
                    message: "\(file.displayPath) shares its number \(String(format: "%03d", number)) with \(sharing.filter { $0 != file.name }.joined(separator: ", ")): the order between them, and which of them the number identifies, is undefined",
                    remedy: "give each migration its own number (renumber the one that is not applied yet)"))
                continue
            }
            guard file.ref.number != nil else {
                plan.problems.append(MigrationProblem(
                    gate: "name", migration: file.name,
                    message: "\(file.displayPath) does not start with a sequence number, so its place in the order is unknown",
                    remedy: "rename it NNN_description.sql, numbered after the last migration"))
                continue
            }
            plan.problems += Self.refusals(file.problems, migration: file.name, path: file.displayPath)
            let partial = (state.progress[file.name] ?? []).filter { $0.checksum == file.checksum && !$0.started }
            let started = (state.progress[file.name] ?? []).first { $0.checksum == file.checksum && $0.started }?.index
            if let started, let problem = startedProblem(file, index: started) { plan.problems.append(problem) }
            // A file already partly applied goes on: the findings were there when it started.
            if partial.isEmpty && started == nil, let findings = lintErrors[file.name] {
                let problems = Self.lintProblems(findings, file: file)
                if options.refuseLintErrors { plan.problems += problems } else { plan.notes += problems.map { "allowed lint error: \($0.message)" } }
            }
            let outOfOrder = lastApplied.map { position < $0 } ?? false
            let mode = file.analysis.transactionMode
            var reason: String?
            if case .nonTransactional(let why) = mode { reason = why }
            plan.pending.append(PendingMigration(
                name: file.name, number: file.ref.number, path: file.displayPath, checksum: file.checksum,
                description: file.analysis.header.description, dependencies: file.analysis.header.dependencies,
                transactional: mode.isTransactional, nonTransactionalReason: reason,
                ownTransactionControl: file.analysis.explicitTransactionControl, statements: file.statements,
                completedStatements: mode.isTransactional ? [] : Set(partial.map(\.index)), outOfOrder: outOfOrder,
                startedStatement: mode.isTransactional ? nil : started))
            if outOfOrder, let lastApplied {
                plan.notes.append("\(file.name) is applied out of order: \(files[lastApplied].name) is already applied")
            }
            plan.problems += dependencyProblems(file, position: position, files: files, state: state, planStems: planStems)
        }
        return plan
    }

    /// Each file's lint findings of error severity, less those its own problems already refuse
    /// it for (the runner's own reading of the file: NUL byte, COPY FROM STDIN…).
    static func lintErrors(_ findings: [Finding], files: [LoadedFile]) -> [String: [Finding]] {
        var result: [String: [Finding]] = [:]
        for file in files {
            let refusedFor = Set(file.problems.map(\.rule))
            let errors = findings.filter { $0.file == file.ref.path && $0.severity == .error && !refusedFor.contains($0.rule) }
            if !errors.isEmpty { result[file.name] = errors.sortedForReading() }
        }
        return result
    }

    static func lintProblems(_ findings: [Finding], file: LoadedFile) -> [MigrationProblem] {
        findings.map { finding in
            MigrationProblem(gate: "lint", migration: file.name,
                             message: "\(file.displayPath):\(finding.line):\(finding.column): \(finding.message) [\(finding.rule)]",
                             remedy: "make the statement safe; or, if it is safe here (say why), put `-- bellows:ignore \(finding.rule): why` before it; or run `bellows migrate --allow-lint-errors`")
        }
    }

    /// The ledger row of a file applied under another name: a row whose file is gone, with
    /// the same number and checksum as `file` (a pure rename).
    static func renamedRow(of file: LoadedFile, state: DatabaseState, files: [LoadedFile]) -> LedgerRow? {
        guard state.ledger[file.name] == nil, let number = file.ref.number else { return nil }
        let names = Set(files.map(\.name))
        return state.ledger.values.sorted { $0.name < $1.name }.first {
            !names.contains($0.name) && PlanNaming.sequenceNumber(of: $0.name) == number && $0.checksum == file.checksum
        }
    }

    /// Identity by number and checksum: a pending file that has the number of an applied
    /// migration whose file is gone (renamed and edited), or the content of one (renumbered),
    /// or the number of a partly applied one, would apply the same migration twice.
    func renameProblem(_ file: LoadedFile, state: DatabaseState, files: [LoadedFile]) -> MigrationProblem? {
        let names = Set(files.map(\.name))
        let gone = state.ledger.values.filter { !names.contains($0.name) }.sorted { $0.name < $1.name }
        let number = file.ref.number
        if let row = gone.first(where: { number != nil && PlanNaming.sequenceNumber(of: $0.name) == number }) {
            return MigrationProblem(
                gate: "rename", migration: file.name,
                message: "\(file.displayPath) has the number of \(row.name), applied \(row.appliedAt) by \(row.appliedBy) and no longer in \(Self.display(project.migrationsDirectory)); its content differs (ledger checksum \(row.checksum.prefix(12)), file \(file.checksum.prefix(12))), so it looks like that migration renamed and edited: applying it would apply the migration a second time",
                remedy: "restore the file's name \(row.name).sql (then an edit is reported as drift), or, if it is a new migration, give it a new number")
        }
        if let row = gone.first(where: { $0.checksum == file.checksum }) {
            return MigrationProblem(
                gate: "rename", migration: file.name,
                message: "\(file.displayPath) has exactly the content of \(row.name), applied \(row.appliedAt) and no longer in \(Self.display(project.migrationsDirectory)): renumbered, it would be applied a second time",
                remedy: "restore the file's name \(row.name).sql")
        }
        if let partial = state.progress.keys.sorted().first(where: { !names.contains($0) && number != nil && PlanNaming.sequenceNumber(of: $0) == number }) {
            return MigrationProblem(
                gate: "rename", migration: file.name,
                message: "\(file.displayPath) has the number of \(partial), which an interrupted run partly applied and which is no longer in \(Self.display(project.migrationsDirectory)): running it from its first statement would repeat what was applied",
                remedy: "restore the file's name \(partial).sql and run `bellows migrate` to finish it")
        }
        return nil
    }

    /// Records the new name of a renamed file in the ledger, with a `rename` event.
    func rename(_ rename: MigrationRename, _ connection: Connection) throws {
        try database {
            try connection.withTransaction {
                try connection.execute("UPDATE bellows.migrations SET name = $2 WHERE name = $1 AND checksum = $3",
                                       [rename.from, rename.to, rename.checksum])
                try record(connection, migration: rename.to, command: "rename", outcome: "succeeded", details: [
                    "from": .string(rename.from), "to": .string(rename.to), "checksum": .string(rename.checksum)])
            }
        }
        report(.info("\(rename.to): the file of \(rename.from) was renamed (same number, same checksum); the ledger now records the new name and the file is not applied again"))
    }

    /// The first `plan:ID` dependency of `file` whose plan exists and is not contracted.
    func planWait(_ file: LoadedFile, state: DatabaseState, planStems: [String]) -> PlanWait? {
        for dependency in file.analysis.header.dependencies where dependency.lowercased().hasPrefix("plan:") {
            let reference = String(dependency.dropFirst(5)).trimmingCharacters(in: .whitespaces)
            guard let id = Engine.match(reference, in: planStems) ?? (state.planPhases[reference] != nil ? reference : nil) else { continue }
            let phase = state.planPhases[id] ?? .planned
            if phase != .contracted { return PlanWait(migration: file.name, plan: id, phase: phase.rawValue) }
        }
        return nil
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

    func run(_ migration: PendingMigration, _ connection: Connection, lock: Connection) throws -> AppliedMigration {
        defer { resetSession(connection) }
        if migration.transactional {
            report(.info("\(migration.name): applying in one transaction (\(migration.statements.count) statement(s))"
                         + (migration.ownTransactionControl ? "; the file's own BEGIN and COMMIT open and close it" : "")))
            return try runTransactional(migration, connection, lock: lock)
        }
        let resumed = migration.completedStatements.count
        report(.info("\(migration.name): applying outside a transaction, statement by statement (\(migration.nonTransactionalReason ?? "non-transactional"))"
                     + (resumed > 0 ? "; resuming after \(resumed) statement(s) applied by an earlier run" : "")
                     + (migration.ownTransactionControl ? "; each BEGIN … COMMIT block of the file runs as one transaction" : "")))
        return try runNonTransactional(migration, connection, lock: lock)
    }

    func runTransactional(_ migration: PendingMigration, _ connection: Connection, lock: Connection) throws -> AppliedMigration {
        let started = Date()
        var milliseconds = 0.0
        do {
            try runInTransaction(migration.statements, file: migration.path, connection) { attempt in
                milliseconds = Date().timeIntervalSince(started) * 1000
                try requireRunnerLock(lock, before: "recording \(migration.name) as applied")
                try insertLedgerRow(connection, migration, milliseconds: Int(milliseconds.rounded()))
                try record(connection, migration: migration.name, command: "migrate", outcome: "succeeded", details: [
                    "checksum": .string(migration.checksum), "transactional": true, "duration_ms": .int(Int(milliseconds.rounded())),
                    "statements": .int(migration.statements.count), "attempts": .int(attempt)])
            }
        } catch {
            let failure = migrationError(migration.name, file: migration.path, statement: error.statement, error: error.error,
                                         transactional: true, rollback: false, completed: 0, total: migration.statements.count)
            if options.interrupt?.isTriggered == true {
                throw interrupted(failure, state: "its running statement was cancelled and its transaction rolled back: nothing of it is applied", connection)
            }
            recordFailure(connection, failure, command: "migrate")
            throw failure
        }
        return AppliedMigration(name: migration.name, checksum: migration.checksum, transactional: true,
                                milliseconds: milliseconds, statementsRun: migration.statements.count,
                                statementsResumed: 0, dryRun: false)
    }

    /// A statement of a transaction that failed (nil: the bookkeeping or the COMMIT).
    struct TransactionFailure: Error {
        var error: PostgresError
        var statement: MigrationStatement?
    }

    /// Runs `statements` in one transaction — opened by the file's own BEGIN when it has one —
    /// then `finish(attempt)` as the runner's role (the ledger or progress rows), and commits.
    /// After a lock timeout or a deadlock the whole transaction is retried, up to the lock
    /// policy's retries. Returns the number of attempts.
    @discardableResult
    func runInTransaction(_ statements: [MigrationStatement], file: String, _ connection: Connection,
                          before: () throws -> Void = {}, finish: (Int) throws -> Void) throws(TransactionFailure) -> Int {
        let policy = options.lockPolicy
        var attempt = 0
        while true {
            attempt += 1
            var failing: MigrationStatement?
            do {
                try connection.execute(statements.first?.opening ?? "BEGIN")
                try before()
                for statement in statements {
                    failing = statement
                    try connection.execute(statement.sql)
                    reportNotices(connection, file, statement)
                    if StatementSplitter.split(statement.sql).first.map(MigrationStatements.resetsSession) == true {
                        try applySessionSettings(connection)
                    }
                }
                failing = nil
                try actAsRunner(connection)
                try finish(attempt)
                try connection.execute("COMMIT")
                return attempt
            } catch {
                let error = error as? PostgresError ?? PostgresError(kind: .client, message: "\(error)")
                if connection.isOpen, connection.inTransaction { _ = try? connection.execute("ROLLBACK") }
                if Self.isRetryable(error), attempt <= policy.retries, connection.isOpen {
                    waitBeforeRetry(attempt: attempt, policy: policy, statement: failing, connection)
                    continue
                }
                throw TransactionFailure(error: error, statement: failing)
            }
        }
    }

    func runNonTransactional(_ migration: PendingMigration, _ connection: Connection, lock: Connection) throws -> AppliedMigration {
        let started = Date()
        var done = migration.completedStatements
        var ran = 0
        for unit in Self.units(of: migration.statements) {
            let first = unit[0]
            let parsed = StatementSplitter.split(first.sql).first
            let standalone = unit.count == 1 && first.block == nil
            if unit.allSatisfy({ done.contains($0.index) }) {
                // Session settings of the applied part (`SET`, `RESET`, `set_config(…, false)`,
                // also those inside a committed BEGIN … COMMIT block) are set again for the
                // statements that follow.
                let settings = unit.filter { StatementSplitter.split($0.sql).first.map(MigrationStatements.isSessionSetting) == true }
                if !settings.isEmpty {
                    try runUnit(settings, migration, record: false, connection)
                }
                continue
            }
            if options.interrupt?.isTriggered == true {
                throw MigrationInterrupted(migration: migration.name, state: "\(done.count) of \(migration.statements.count) statements of it are applied and recorded; the next one did not start")
            }
            do {
                try requireRunnerLock(lock, before: "statement \(first.index + 1) of \(migration.name)")
            } catch {
                throw failed(migration, first, error, completed: done.count, connection)
            }
            if first.index == migration.startedStatement, let parsed,
               try resolveStarted(first, parsed: parsed, migration, connection) {
                done.insert(first.index)
                continue
            }
            report(.info("\(migration.name): statement \(first.index + 1)\(unit.count > 1 ? "-\(unit[unit.count - 1].index + 1)" : "")/\(migration.statements.count) at line \(first.line): "
                         + (first.sql.split(separator: "\n").first.map(String.init) ?? "")))
            if standalone, let parsed, MigrationFile.isNonTransactional(parsed) {
                let statementStarted = Date()
                // Recorded as started first: a run killed during it leaves this row, and the
                // next run checks what the statement did instead of repeating it blindly.
                if first.index != migration.startedStatement {
                    try database {
                        try connection.withTransaction {
                            try actAsRunner(connection)
                            try insertProgressRows([first], migration, milliseconds: -1, connection)
                        }
                    }
                }
                do {
                    try runStandalone(first, parsed: parsed, migration: migration.name, file: migration.path, connection)
                } catch let error as PostgresError {
                    // It failed or was cancelled: it is not applied, the row goes.
                    forgetStarted(first, migration, connection)
                    throw failed(migration, first, error, completed: done.count, connection)
                }
                try database {
                    try connection.withTransaction {
                        try actAsRunner(connection)
                        try connection.execute("""
                            UPDATE bellows.migration_progress SET duration_ms = $3, completed_at = clock_timestamp()
                            WHERE name = $1 AND statement_index = $2
                            """, [migration.name, first.index, Int((Date().timeIntervalSince(statementStarted) * 1000).rounded())])
                    }
                }
            } else {
                try runUnit(unit, migration, record: true, connection, completed: done.count)
            }
            if parsed.map(MigrationStatements.resetsSession) == true { try database { try applySessionSettings(connection) } }
            done.formUnion(unit.map(\.index))
            ran += unit.count
        }
        try database {
            try connection.withTransaction {
                try actAsRunner(connection)
                try requireRunnerLock(lock, before: "recording \(migration.name) as applied")
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

    /// The statements of a non-transactional file grouped as they run: each explicit
    /// BEGIN … COMMIT block together, every other statement alone.
    static func units(of statements: [MigrationStatement]) -> [[MigrationStatement]] {
        var units: [[MigrationStatement]] = []
        for statement in statements {
            if let block = statement.block, let last = units.last?.last, last.block == block {
                units[units.count - 1].append(statement)
            } else {
                units.append([statement])
            }
        }
        return units
    }

    /// Runs a unit of a non-transactional file in one transaction (the file's own BEGIN, or
    /// the runner's), committed with its progress rows (`record`), so it is applied and
    /// recorded exactly once; retried after lock timeouts. A statement PostgreSQL refuses in a
    /// transaction block that the analysis did not recognise runs on its own instead.
    func runUnit(_ unit: [MigrationStatement], _ migration: PendingMigration, record: Bool, _ connection: Connection,
                 completed: Int = 0) throws {
        let started = Date()
        do {
            try runInTransaction(unit, file: migration.path, connection) { _ in
                if record {
                    try insertProgressRows(unit, migration, milliseconds: Int((Date().timeIntervalSince(started) * 1000).rounded()), connection)
                }
            }
        } catch {
            guard error.error.sqlState == .activeSQLTransaction, unit.count == 1, unit[0].block == nil, let statement = error.statement else {
                throw failed(migration, error.statement ?? unit[0], error.error, completed: completed, connection)
            }
            // Not recognised as non-transactional: run it alone, recorded after it.
            do {
                try runStandalone(statement, parsed: nil, migration: migration.name, file: migration.path, connection)
            } catch let error as PostgresError {
                throw failed(migration, statement, error, completed: completed, connection)
            }
            if record {
                try database {
                    try connection.withTransaction {
                        try actAsRunner(connection)
                        try insertProgressRows(unit, migration, milliseconds: 0, connection)
                    }
                }
            }
        }
    }

    /// The error of a failed statement of a non-transactional file, recorded in the audit
    /// log; ``MigrationInterrupted`` when it failed because the run was interrupted.
    func failed(_ migration: PendingMigration, _ statement: MigrationStatement, _ error: PostgresError, completed: Int,
                _ connection: Connection) -> Error {
        let failure = migrationError(migration.name, file: migration.path, statement: statement, error: error,
                                     transactional: false, rollback: false, completed: completed,
                                     total: migration.statements.count)
        if options.interrupt?.isTriggered == true {
            return interrupted(failure, state: "statement \(statement.index + 1) (line \(statement.line)) was cancelled and is not applied; \(completed) of \(migration.statements.count) statements are applied and recorded", connection)
        }
        recordFailure(connection, failure, command: "migrate")
        return failure
    }

    /// Records an `interrupted` event for a run stopped by ``MigrationInterrupt``.
    func interrupted(_ failure: MigrationError, state: String, _ connection: Connection) -> MigrationInterrupted {
        recordQuietly(connection, migration: failure.migration, command: failure.isRollback ? "rollback" : "migrate",
                      outcome: "interrupted", details: ["file": .string(failure.file), "line": .int(failure.line), "state": .string(state)])
        return MigrationInterrupted(migration: failure.migration, state: state)
    }

    func forgetStarted(_ statement: MigrationStatement, _ migration: PendingMigration, _ connection: Connection) {
        guard connection.isOpen else { return }
        _ = try? connection.withTransaction {
            try actAsRunner(connection)
            try connection.execute("DELETE FROM bellows.migration_progress WHERE name = $1 AND statement_index = $2 AND duration_ms < 0",
                                   [migration.name, statement.index])
        }
    }

    /// Statements that leave the database the same when run twice.
    static func isRepeatable(_ s: SQLStatement) -> Bool {
        if MigrationStatements.isSessionSetting(s) { return true }
        for verb in ["VACUUM", "ANALYZE", "ANALYSE", "REINDEX", "CLUSTER", "DISCARD", "CHECKPOINT"] where s.matches(verb) { return true }
        if s.matches("ALTER", "SYSTEM") { return true }
        if s.matches("DROP"), s.contains("IF", "EXISTS") { return true }
        if s.matches("CREATE"), s.contains("IF", "NOT", "EXISTS") { return true }
        return false
    }

    /// A statement an interrupted run started that the next run cannot resolve by itself:
    /// neither repeatable nor a named index build, and no `--started` given.
    func startedProblem(_ file: LoadedFile, index: Int) -> MigrationProblem? {
        guard options.startedStatement == nil, index < file.statements.count else { return nil }
        let statement = file.statements[index]
        guard let parsed = StatementSplitter.split(statement.sql).first else { return nil }
        if Self.isRepeatable(parsed) { return nil }
        if MigrationStatements.concurrentIndexBuild(parsed)?.indexName != nil { return nil }
        return MigrationProblem(
            gate: "resume", migration: file.name,
            message: "\(file.displayPath):\(statement.line): statement \(index + 1) was started by a run that was killed before it could record whether it finished; Bellows cannot tell from the database whether `\(statement.sql.split(separator: "\n").first ?? "")` completed, and it is not safe to repeat",
            remedy: "check the database, then `bellows migrate --started done` if it completed, or `--started rerun` if it did not")
    }

    /// Before resuming at a statement an interrupted run started: true when it is known to
    /// be complete (a valid index of that name, or `--started done`) and is now recorded so;
    /// false to run it (again).
    func resolveStarted(_ statement: MigrationStatement, parsed: SQLStatement, _ migration: PendingMigration,
                        _ connection: Connection) throws -> Bool {
        var complete = options.startedStatement == .done
        if let build = MigrationStatements.concurrentIndexBuild(parsed), let name = build.indexName, options.startedStatement == nil {
            let valid = try database {
                try connection.query("""
                    SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                    WHERE c.relname = $1 AND i.indrelid = to_regclass($2)
                    """, [name, build.table.quoted]).first?.bool("valid")
            }
            complete = valid == true
            report(.info(complete
                ? "\(migration.name): the interrupted run's build of index \(name) finished (it is valid): recorded as applied, not built again"
                : "\(migration.name): the interrupted run's build of index \(name) did not finish: building it again"))
        } else if options.startedStatement == nil {
            report(.info("\(migration.name): statement \(statement.index + 1), started by an interrupted run, is safe to repeat: running it again"))
        }
        guard complete else { return false }
        try database {
            try connection.withTransaction {
                try actAsRunner(connection)
                try connection.execute("UPDATE bellows.migration_progress SET duration_ms = 0, completed_at = clock_timestamp() WHERE name = $1 AND statement_index = $2",
                                       [migration.name, statement.index])
            }
        }
        return true
    }

    /// Waits until no session of an earlier runner is still running a statement in this
    /// database — the server session of a runner that was killed, which goes on until the
    /// server notices (`client_connection_check_interval`) — so that the ledger is read after
    /// whatever it commits. Polls outside a transaction on `control`.
    func waitForOrphans(_ control: Connection, command: String, except pid: Int32) throws {
        let deadline = Date().addingTimeInterval(Double(max(options.runnerLockWaitMilliseconds, 1000)) / 1000)
        var reported = false
        while true {
            let rows = try database {
                try control.query("""
                    SELECT pid, state, left(query, 200) AS query, round(extract(epoch FROM now() - query_start))::int AS seconds
                    FROM pg_stat_activity
                    WHERE application_name = 'bellows migrate' AND datname = current_database() AND pid <> $1
                      AND state <> 'idle' AND backend_type = 'client backend'
                    """, [Int(pid)])
            }
            guard let row = rows.first else { return }
            let what = "pid \((try? row.int("pid")) ?? 0) (\((try? row.optionalString("state")) ?? nil ?? "active") for \((try? row.int("seconds")) ?? 0) s: \((try? row.optionalString("query")) ?? nil ?? "")"
            if options.interrupt?.isTriggered == true { throw MigrationInterrupted(migration: nil, state: "nothing was applied") }
            guard Date() < deadline else {
                throw MigrationRefusal(command: command, problems: [MigrationProblem(
                    gate: "lock", migration: "*",
                    message: "the session of an earlier runner that no longer holds the migration lock is still running: \(what)",
                    remedy: "wait for it to end, or end it with SELECT pg_terminate_backend(pid), then run the command again")])
            }
            if !reported {
                report(.info("waiting for the session of an interrupted runner to end before reading the ledger: \(what)"))
                reported = true
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    func insertProgressRows(_ statements: [MigrationStatement], _ migration: PendingMigration, milliseconds: Int,
                            _ connection: Connection) throws(PostgresError) {
        for statement in statements {
            try connection.execute("""
                INSERT INTO bellows.migration_progress (name, checksum, statement_index, statement_line, duration_ms, applied_by)
                VALUES ($1, $2, $3, $4, $5, \(StateStore.actorSQL(6)))
                """, [migration.name, migration.checksum, statement.index, statement.line,
                      statement.index == statements[0].index ? milliseconds : 0, options.actor])
        }
    }

    /// Inside a transaction: the runner's own role again until it ends, whatever `SET ROLE`
    /// or `SET SESSION AUTHORIZATION` the file ran, so the ledger and progress rows are
    /// written with the runner's privileges. The file's setting returns at the end of the
    /// transaction.
    func actAsRunner(_ connection: Connection) throws(PostgresError) {
        try connection.execute("SET LOCAL SESSION AUTHORIZATION DEFAULT")
        try connection.execute("SET LOCAL ROLE NONE")
    }

    /// Runs one statement outside a transaction block, retrying after lock timeouts. A
    /// concurrent index build is made safe to retry: an INVALID index of the same name (left
    /// by an interrupted build) is dropped first, and one this build leaves INVALID is dropped.
    func runStandalone(_ statement: MigrationStatement, parsed: SQLStatement?, migration: String, file: String,
                       _ connection: Connection) throws {
        let policy = options.lockPolicy
        let build = parsed.flatMap(MigrationStatements.concurrentIndexBuild)
        let reindex = parsed.flatMap(MigrationStatements.concurrentReindex)
        let concurrent = parsed.flatMap(MigrationFile.concurrentlyToken) != nil
        var attempt = 0
        while true {
            attempt += 1
            var before: [Int] = []
            if let build { before = try prepare(build, migration: migration, connection) }
            do {
                // What an interrupted or failed run of this reindex left goes first, and what
                // this one leaves goes after it: success is never reported over them.
                if let reindex { try dropReindexLeftovers(reindex, migration: migration, connection) }
                if concurrent {
                    _ = try withoutRunnersLockTimeout(connection) { () throws(PostgresError) in
                        try watchingBlockers(of: connection.backendPID, what: "\(migration): \(file):\(statement.line)") { () throws(PostgresError) in
                            try connection.execute(statement.sql)
                        }
                    }
                } else {
                    try connection.execute(statement.sql)
                }
                reportNotices(connection, file, statement)
                if let reindex { try dropReindexLeftovers(reindex, migration: migration, connection) }
                return
            } catch {
                if let build { dropInvalidIndexes(build, except: before, connection) }
                if let reindex, connection.isOpen, !connection.inTransaction {
                    _ = try? dropReindexLeftovers(reindex, migration: migration, connection)
                }
                guard Self.isRetryable(error), attempt <= policy.retries, connection.isOpen else { throw error }
                waitBeforeRetry(attempt: attempt, policy: policy, statement: statement, connection)
            }
        }
    }

    /// Runs a concurrent build (`CREATE INDEX CONCURRENTLY`, `REINDEX CONCURRENTLY`, …)
    /// without the runner's own `lock_timeout`. Such a build waits — as a lock wait, on each
    /// older transaction's virtual transaction id — for every transaction that started before
    /// it (a pg_dump, a long report, even on another table) to end, and a 2 s lock_timeout
    /// cancels it there, to start from scratch on retry. Its waits never block the
    /// application's reads and writes. A `lock_timeout` the file set itself is kept.
    func withoutRunnersLockTimeout<T>(_ connection: Connection, _ body: () throws(PostgresError) -> T) throws(PostgresError) -> T {
        let runners = "\(max(0, options.lockTimeoutMilliseconds))ms"
        let own = try connection.query("SELECT current_setting('lock_timeout')::interval = $1::interval AS own", [runners]).first?.bool("own") == true
        guard own else { return try body() }
        try connection.execute("SELECT set_config('lock_timeout', '0', false)")
        defer { _ = try? connection.execute("SELECT set_config('lock_timeout', $1, false)", [runners]) }
        return try body()
    }

    /// While `body` runs a long statement on the session `pid`, reports every second who it
    /// waits for (`pg_blocking_pids`: the pid, its query, how long its transaction has been
    /// open), from a connection of its own, as long as they still run.
    func watchingBlockers<T>(of pid: Int32, what: String, _ body: () throws(PostgresError) -> T) throws(PostgresError) -> T {
        let stop = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        let conninfo = options.conninfo
        let report = self.report
        finished.enter()
        DispatchQueue.global().async {
            defer { finished.leave() }
            var watcher: Connection?
            var reported = Set<String>()
            while stop.wait(timeout: .now() + 1) == .timedOut {
                if watcher == nil {
                    watcher = try? Connection(conninfo)
                    _ = try? watcher?.execute("SELECT set_config('application_name', 'bellows migrate (watch)', false)")
                }
                guard let watcher else { continue }
                for blocker in Self.blockers(of: pid, watcher) where !reported.contains(blocker.prepared.map { "prepared " + $0.gid } ?? "\(blocker.pid)") {
                    reported.insert(blocker.prepared.map { "prepared " + $0.gid } ?? "\(blocker.pid)")
                    report(.info("\(what) waits for \(blocker)" + (blocker.prepared == nil ? " — it goes on by itself when that transaction ends" : "")))
                }
            }
            watcher?.close()
        }
        defer {
            stop.signal()
            finished.wait()
        }
        return try body()
    }

    /// The sessions `pid` waits for, described as they are now.
    static func blockers(of pid: Int32, _ connection: Connection) -> [Blocker] {
        let rows = (try? connection.query("""
            SELECT a.pid, a.usename, a.application_name, a.state, left(a.query, 300) AS query,
                   extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS age,
                   (SELECT string_agg(DISTINCT w.locktype, ', ') FROM pg_locks w WHERE w.pid = $1 AND NOT w.granted) AS waits
            FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids($1))
            ORDER BY age DESC NULLS LAST
            """, [Int(pid)])) ?? []
        return rows.compactMap { row in
            guard let blocker = try? row.int("pid") else { return nil }
            let waits = (try? row.optionalString("waits")) ?? nil
            return Blocker(pid: blocker, user: try? row.optionalString("usename"), application: try? row.optionalString("application_name"),
                           state: try? row.optionalString("state"), query: try? row.optionalString("query"),
                           transactionAgeSeconds: try? row.optionalDouble("age"),
                           lockMode: waits == "virtualxid" ? "a snapshot older than the build" : "a conflicting lock")
        } + Blocker.preparedTransactions(connection, waiting: pid)
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

    /// Drops the INVALID `…_ccnew`/`…_ccold` indexes (PostgreSQL numbers a second one
    /// `…_ccnew1`) that an interrupted or failed `REINDEX … CONCURRENTLY` leaves in what
    /// `reindex` rebuilds: never used, written on every insert and update. PostgreSQL gives no
    /// other index such a name and keeps none of them INVALID once a reindex completes.
    /// When one cannot be dropped, the error names it and says to drop it.
    func dropReindexLeftovers(_ reindex: ConcurrentReindex, migration: String, _ connection: Connection) throws(PostgresError) {
        let rows = try connection.query("""
            SELECT n.nspname AS schema, c.relname AS name
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_class t ON t.oid = i.indrelid
            WHERE NOT i.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$'
              AND CASE $1
                    WHEN 'index' THEN i.indrelid = (SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = to_regclass($2))
                    WHEN 'table' THEN t.oid = to_regclass($2) OR t.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = to_regclass($2))
                    WHEN 'schema' THEN t.relnamespace = to_regnamespace($2)
                         OR t.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = to_regnamespace($2))
                    ELSE true
                  END
            ORDER BY 1, 2
            """, [reindex.scope.rawValue, reindex.name?.quoted])
        for row in rows {
            let qualified = SQLQuote.qualified(schema: try row.string("schema"), name: try row.string("name"))
            report(.info("\(migration): dropping the INVALID index \(qualified) an interrupted or failed REINDEX … CONCURRENTLY left behind (never used, written on every insert and update)"))
            do {
                try connection.execute("DROP INDEX CONCURRENTLY IF EXISTS \(qualified)")
            } catch {
                var refused = error
                refused.message = "could not drop the INVALID index \(qualified) an interrupted REINDEX … CONCURRENTLY left behind: \(error.message)"
                refused.hint = "drop it (DROP INDEX CONCURRENTLY \(qualified);) and run `bellows migrate` again"
                throw refused
            }
        }
    }

    func insertLedgerRow(_ connection: Connection, _ migration: PendingMigration, milliseconds: Int, transactional: Bool = true) throws {
        try connection.execute("""
            INSERT INTO bellows.migrations (name, checksum, applied_by, applied_at, duration_ms, transactional, description)
            VALUES ($1, $2, \(StateStore.actorSQL(3)), clock_timestamp(), $4, $5, $6)
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
            connection = try BellowsError.connect(options.conninfo)
            try ServerVersion.requireSupported(connection)
            try applySessionSettings(connection)
            if createSchema {
                try StateStore.refuseIfPublished(connection, project: project)
                try StateStore.ensure(connection)
            }
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
        options.interrupt?.attach(connection)
        defer {
            options.interrupt?.attach(nil)
            connection.close()
        }
        do {
            return try body(connection)
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// The runner's session: its application name and `lock_timeout`; UTF-8 and standard
    /// strings, so that the server reads each statement as the lexer (and the linter) did.
    func applySessionSettings(_ connection: Connection) throws(PostgresError) {
        try connection.execute("""
            SELECT set_config('application_name', $1, false), set_config('lock_timeout', $2, false),
                   set_config('client_encoding', 'UTF8', false), set_config('standard_conforming_strings', 'on', false)
            """, ["bellows migrate", "\(max(0, options.lockTimeoutMilliseconds))ms"])
        // PostgreSQL 14+: a killed runner's statement is ended within this interval instead
        // of running on (and holding its locks) until it finishes.
        // A database's or role's idle_session_timeout would end the runner's session while it
        // waits (for the runners' lock, for an orphan) and nobody would say why.
        try connection.execute("SELECT set_config('idle_session_timeout', '0', false)")
        if connection.serverVersion >= 140000, options.clientCheckIntervalMilliseconds > 0 {
            try connection.execute("SELECT set_config('client_connection_check_interval', $1, false)",
                                   ["\(options.clientCheckIntervalMilliseconds)ms"])
        }
    }

    /// After each file: whatever the file SET (search_path, role, timeouts) does not leak
    /// into the next one.
    func resetSession(_ connection: Connection) {
        guard connection.isOpen else { return }
        if connection.inTransaction { _ = try? connection.execute("ROLLBACK") }
        _ = try? connection.execute("RESET ALL")
        _ = try? connection.execute("RESET SESSION AUTHORIZATION")
        _ = try? connection.execute("RESET ROLE")
        _ = try? applySessionSettings(connection)
    }

    /// Runs `body` holding the advisory lock that keeps runners apart, waiting up to
    /// `runnerLockWaitMilliseconds` for another runner to finish. The lock is held by a
    /// connection of its own (`control`, passed to `body`), never by the one that runs the
    /// files, so nothing a file runs (`DISCARD ALL`, `RESET ALL`, `SET SESSION
    /// AUTHORIZATION`, a terminated statement) can release it.
    func withRunnerLock<T>(_ connection: Connection, command: String, _ body: (Connection) throws -> T) throws -> T {
        let control: Connection
        do {
            control = try Connection(options.conninfo)
        } catch {
            // The command's own session connected: this one is the second (hostile-i 05).
            var second = error
            let limit = error.message.contains("too many connections") || error.sqlState?.rawValue == "53300"
            second.message = "`bellows \(command == "rollback" ? "migrate rollback" : command)` holds the migration lock on a second session of its own, which could not be opened "
                + "(the first one was): \(error.message.trimmingCharacters(in: .whitespacesAndNewlines))"
                + (limit ? "; the role's and the database's CONNECTION LIMIT must allow it two sessions" : "")
            throw BellowsError.cannotConnect(second)
        }
        do {
            // The lock's session is idle for the whole run: a database's or role's
            // idle_session_timeout must not end it (and release the lock) under the run.
            try control.execute("""
                SELECT set_config('application_name', $1, false), set_config('idle_session_timeout', '0', false)
                """, ["bellows migrate (lock)"])
        } catch {
            throw BellowsError.database(error)
        }
        // Closing the session releases the lock, whatever happened.
        defer { control.close() }
        try database { try acquireRunnerLock(control, command: command) }
        defer { releaseRunnerLock(control) }
        return try body(control)
    }

    /// Takes the runners' lock, polling `pg_try_advisory_lock` while another runner holds it.
    /// Between two polls the session is idle, outside any transaction: a waiting runner holds
    /// no snapshot, so the other runner's `CREATE INDEX CONCURRENTLY` (which waits for every
    /// older snapshot) never waits for it — blocking in `pg_advisory_lock` would deadlock.
    func acquireRunnerLock(_ control: Connection, command: String) throws {
        func attempt() throws -> Bool {
            try control.query("SELECT pg_try_advisory_lock(hashtext('bellows'), hashtext($1)) AS locked", [Self.lockKey])
                .first?.bool("locked") == true
        }
        if try attempt() { return }
        let wait = options.runnerLockWaitMilliseconds
        func refusal() -> MigrationRefusal {
            MigrationRefusal(command: command, problems: [MigrationProblem(
                gate: "lock", migration: "*",
                message: "\(lockHolder(control)) holds the migration lock (another `bellows migrate` or rollback is running)"
                    + (wait > 0 ? " and did not release it within \(Double(wait) / 1000) s" : ""),
                remedy: "wait for it to finish and run the command again; `bellows migrations status` shows where it stands")])
        }
        guard wait > 0 else { throw refusal() }
        report(.info("waiting up to \(Double(wait) / 1000) s for \(lockHolder(control)), which holds the migration lock"))
        let deadline = Date().addingTimeInterval(Double(wait) / 1000)
        var pause = 0.02
        while Date() < deadline {
            Thread.sleep(forTimeInterval: max(0, min(pause, deadline.timeIntervalSinceNow)))
            if options.interrupt?.isTriggered == true {
                throw MigrationInterrupted(migration: nil, state: "nothing was applied (it was waiting for the migration lock)")
            }
            if try attempt() { return }
            pause = min(pause * 1.5, 0.25)
        }
        throw refusal()
    }

    /// Throws when `control` no longer holds the runners' lock — its session was ended (by
    /// `pg_terminate_backend`, a server restart, a network failure) and another runner may
    /// have started — so that nothing more is run or recorded unprotected.
    func requireRunnerLock(_ control: Connection, before what: String) throws(PostgresError) {
        var cause = ""
        do {
            let held = try control.query("""
                SELECT EXISTS (SELECT FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted
                               AND classid = hashtext('bellows')::oid AND objid = hashtext($1)::oid AND objsubid = 2) AS held
                """, [Self.lockKey]).first?.bool("held") == true
            if held { return }
        } catch {
            cause = " (" + error.message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ") + ")"
        }
        throw PostgresError(kind: .client, message: "the session holding the migration lock (application bellows migrate (lock)) was lost before \(what)\(cause): another runner may be running, so the run stopped instead of going on unprotected")
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
        _ = try? connection.withTransaction {
            try actAsRunner(connection)
            try record(connection, migration: migration, command: command, outcome: outcome, details: details)
        }
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
