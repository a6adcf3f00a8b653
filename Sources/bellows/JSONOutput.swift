import ArgumentParser
import BellowsEngine
import BellowsSQL
import Foundation
import PGClient
import Synchronization

/// `--format json`: every command prints exactly one JSON object on stdout, a ``Document``
/// (docs/json.md). Progress goes to stderr as JSON lines (``Event``).

/// What happened, as the exit code says it: `ok` 0, `refused` 1 (and `wait`'s 6 and 7: what was
/// waited for did not happen), `error` 2 and 5, `failed` 3, `interrupted` 4.
enum Outcome: String, Encodable {
    case ok, refused, failed, interrupted, error

    init(exitCode: Int32) {
        switch exitCode {
        case 0: self = .ok
        case ExitStatus.refused, ExitStatus.timedOut, ExitStatus.movedAway: self = .refused
        case ExitStatus.failed: self = .failed
        case ExitStatus.interrupted: self = .interrupted
        default: self = .error
        }
    }
}

/// A body with no fields of its own (an error before the command had anything to report).
struct NoBody: Encodable {
    func encode(to encoder: any Encoder) throws {}
}

/// One command's JSON document: `bellows`, `commit`, `command`, `outcome`, `error` (unless ok),
/// then the command's own fields (`Body`'s, at the top level).
struct Document<Body: Encodable>: Encodable {
    var command: String
    var outcome: Outcome
    var error: ErrorReport?
    var body: Body?

    enum CodingKeys: String, CodingKey {
        case bellows, commit, command, outcome, error
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(BuildInfo.version, forKey: .bellows)
        try container.encode(BuildInfo.commit, forKey: .commit)
        try container.encode(command, forKey: .command)
        try container.encode(outcome, forKey: .outcome)
        try container.encodeIfPresent(error, forKey: .error)
        try body?.encode(to: encoder)
    }
}

/// Why a command did not end `ok`: `kind` (stable: `refused`, `plan-invalid`, `failed`,
/// `database`, `interrupted`, `usage`, `io-error`, `cannot-connect`, `findings`, `violations`,
/// `differs`, `not-confirmed`, `timeout`, `moved-away`), `message` (what the text output says), and the fields of that kind.
struct ErrorReport: Encodable {
    var kind: String
    var message: String
    var plan: String?
    var phase: String?
    var step: String?
    var migration: String?
    var failures: [GateFailure]?
    var problems: [Problem]?
    var findings: [Finding]?
    var file: String?
    var line: Int?
    var column: Int?
    var statement: String?
    var sqlstate: String?
    var detail: String?
    var hint: String?
    var context: String?
    var position: Int?
    var rowsDone: Int?
    var state: String?
    var reason: String?
    var resume: String?

    /// A reason `migrate` or its rollback did not run.
    struct Problem: Encodable {
        var gate: String
        var migration: String
        var message: String
        var remedy: String?
    }

    enum CodingKeys: String, CodingKey {
        case kind, message, plan, phase, step, migration, failures, problems, findings, file, line, column, statement
        case sqlstate, detail, hint, context, position, state, reason, resume
        case rowsDone = "rows_done"
    }

    init(kind: String, message: String) {
        self.kind = kind
        self.message = message
    }

    init(_ error: BellowsError) {
        self.init(kind: "", message: error.description)
        switch error {
        case .refused(let refusal):
            kind = "refused"
            plan = refusal.plan
            phase = refusal.phase.rawValue
            failures = refusal.failures
        case .failed(let plan, _, let purpose, let pg):
            kind = "failed"
            self.plan = plan
            step = purpose
            take(pg)
        case .planInvalid(let findings):
            kind = "plan-invalid"
            self.findings = findings.sortedForReading()
        case .interrupted(let plan, let rows, let resume):
            kind = "interrupted"
            self.plan = plan
            rowsDone = rows
            self.resume = resume
        case .stopped(let plan, _, let reason, let resume):
            kind = "interrupted"
            self.plan = plan
            self.reason = reason
            self.resume = resume
        case .usage:
            kind = "usage"
        case .database(let pg):
            kind = "database"
            take(pg)
        case .cannotConnect(let pg):
            kind = "cannot-connect"
            detail = pg.message
            hint = BellowsError.connectionHint
        }
    }

    init(_ refusal: MigrationRefusal) {
        self.init(kind: "refused", message: refusal.description)
        problems = refusal.problems.map { Problem(gate: $0.gate, migration: $0.migration, message: $0.message, remedy: $0.remedy) }
    }

    init(_ failure: MigrationError) {
        self.init(kind: "failed", message: failure.description)
        migration = failure.migration
        file = failure.file
        line = failure.errorLine ?? failure.line
        column = failure.errorColumn ?? failure.column
        statement = failure.statement
        sqlstate = failure.sqlState
        detail = failure.detail
        hint = failure.hint
        context = failure.context
    }

    /// A migration test that failed (`migrate --test`): kind `failed`, located in the test file.
    init(_ failure: MigrationTestFailure, message: String) {
        self.init(kind: "failed", message: message)
        migration = failure.migration
        file = failure.file
        line = failure.line
        column = failure.column
        statement = failure.statement
        sqlstate = failure.sqlState
        detail = failure.detail
        hint = failure.hint
        context = failure.context
    }

    init(_ interrupted: MigrationInterrupted) {
        self.init(kind: "interrupted", message: interrupted.description)
        migration = interrupted.migration
        state = interrupted.state
    }

    private mutating func take(_ pg: PostgresError) {
        sqlstate = pg.sqlState?.rawValue
        detail = pg.detail
        hint = pg.hint
        context = pg.context
        position = pg.position
        statement = pg.statement
    }
}

/// One line of progress on stderr with `--format json`.
struct Event: Encodable {
    /// `backfill_progress`, `lock_wait`, `info`, `hook`.
    var event: String
    var progress: Progress?
    var attempt: Int?
    var of: Int?
    var retryInMs: Int?
    var blockers: [JSONValue]?
    var message: String?
    /// `hook`: what a hook of bellows.yaml did.
    var hook: HookRun?

    enum CodingKeys: String, CodingKey {
        case event, progress, attempt, of, blockers, message, hook
        case retryInMs = "retry_in_ms"
    }
}

/// A `backfill_progress` event's progress (see `BackfillProgress`).
struct Progress: Encodable {
    var plan: String
    var rowsScanned: Int
    var rowsUpdated: Int
    var estimatedTotal: Int
    var rowsPerSecond: Double
    var etaSeconds: Double?
    var batchSize: Int
    var lastBatchMs: Double
    var throttled: String?
    var pace: String?
    var activeSessions: Int?
    var tableBytes: Int
    var tableBytesAtStart: Int
    /// A release manager's pause or throttle in force (`bellows pause`, `throttle`).
    var control: String?
    /// The backfill's `VACUUM`s of the table in this run.
    var vacuums: Int
    /// The run's last progress: the walk has reached its bound.
    var walkDone: Bool

    enum CodingKeys: String, CodingKey {
        case plan, throttled, pace, control, vacuums
        case walkDone = "walk_done"
        case rowsScanned = "rows_scanned", rowsUpdated = "rows_updated", estimatedTotal = "estimated_total"
        case rowsPerSecond = "rows_per_second", etaSeconds = "eta_seconds", batchSize = "batch_size", lastBatchMs = "last_batch_ms"
        case activeSessions = "active_sessions", tableBytes = "table_bytes", tableBytesAtStart = "table_bytes_at_start"
    }

    init(_ progress: BackfillProgress) {
        plan = progress.plan
        rowsScanned = progress.rowsScanned
        rowsUpdated = progress.rowsUpdated
        estimatedTotal = progress.estimatedTotal
        rowsPerSecond = progress.rowsPerSecond.isFinite ? progress.rowsPerSecond : 0
        etaSeconds = progress.etaSeconds.flatMap { $0.isFinite ? $0 : nil }
        batchSize = progress.batchSize
        lastBatchMs = progress.lastBatchMilliseconds
        throttled = progress.throttled
        pace = progress.pace
        activeSessions = progress.activeSessions
        tableBytes = progress.tableBytes
        tableBytesAtStart = progress.tableBytesAtStart
        control = progress.control
        vacuums = progress.vacuums
        walkDone = progress.walkDone
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(plan, forKey: .plan)
        try container.encode(rowsScanned, forKey: .rowsScanned)
        try container.encode(rowsUpdated, forKey: .rowsUpdated)
        try container.encode(estimatedTotal, forKey: .estimatedTotal)
        try container.encode(rowsPerSecond, forKey: .rowsPerSecond)
        try container.encode(etaSeconds, forKey: .etaSeconds)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encode(lastBatchMs, forKey: .lastBatchMs)
        try container.encode(throttled, forKey: .throttled)
        try container.encode(pace, forKey: .pace)
        try container.encode(activeSessions, forKey: .activeSessions)
        try container.encode(tableBytes, forKey: .tableBytes)
        try container.encode(tableBytesAtStart, forKey: .tableBytesAtStart)
        try container.encode(control, forKey: .control)
        try container.encode(vacuums, forKey: .vacuums)
        try container.encode(walkDone, forKey: .walkDone)
    }
}

enum JSONOutput {
    /// Set once a document is on stdout: `Bellows.main` prints one for an error only if none was.
    static let printed = Atomic<Bool>(false)

    static func text<Value: Encodable>(_ value: Value) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            // Only a non-finite Double can fail, and JSONValue writes those as null.
            return #"{"bellows":"\#(BuildInfo.version)","outcome":"error","error":{"kind":"internal","message":"the output could not be encoded"}}"#
        }
    }

    /// Prints the command's document.
    static func print<Body: Encodable>(_ command: String, _ outcome: Outcome, _ body: Body?, error: ErrorReport? = nil) {
        Terminal.out(text(Document(command: command, outcome: outcome, error: error, body: body)))
        printed.store(true, ordering: .relaxed)
    }

    /// Prints a document with no body of its own for an error.
    static func print(_ command: String, error: ErrorReport, exitCode: Int32) {
        print(command, Outcome(exitCode: exitCode), NoBody?.none, error: error)
    }

    static func event(_ event: Event) {
        Terminal.err(text(event))
    }

    /// Whether the command line asks for JSON (`--format json` or `--format=json`).
    static func requested(_ arguments: [String]) -> Bool {
        zip(arguments, arguments.dropFirst()).contains { $0 == "--format" && $1 == "json" } || arguments.contains("--format=json")
    }
}

/// The command tree, for the `command` field: a command's path below `bellows`
/// (`expand`, `migrations status`, `migrate apply`).
enum CommandTree {
    static func path(of type: any ParsableCommand.Type) -> String {
        func search(_ node: any ParsableCommand.Type, _ prefix: [String]) -> [String]? {
            for child in node.configuration.subcommands {
                let path = prefix + [child._commandName]
                if ObjectIdentifier(child) == ObjectIdentifier(type) { return path }
                if let found = search(child, path) { return found }
            }
            return nil
        }
        return search(Bellows.self, [])?.joined(separator: " ") ?? type._commandName
    }

    /// The command a command line names, as far as it can be read (for a usage error).
    static func path(arguments: [String]) -> String {
        var node: any ParsableCommand.Type = Bellows.self
        var path: [String] = []
        var words = arguments.makeIterator()
        var next = words.next()
        while true {
            let children = node.configuration.subcommands
            if let word = next, let child = children.first(where: { $0._commandName == word }) {
                node = child
                path.append(word)
                next = words.next()
            } else if let fallback = node.configuration.defaultSubcommand {
                node = fallback
                path.append(fallback._commandName)
            } else {
                break
            }
        }
        return path.joined(separator: " ")
    }
}

extension ParsableCommand {
    /// This command's name in its JSON document.
    static var documentName: String { CommandTree.path(of: Self.self) }
}
