import BellowsEngine
import BellowsPlan
import BellowsTestSupport
import Foundation
import PGClient
import Testing

/// The trait every suite of this target carries: database tests fail loudly without a server.
let needsDatabase = Testing.ConditionTrait.enabled(
    if: TestDatabase.enabled, "set BELLOWS_SKIP_DB_TESTS=1 only to skip database tests on purpose")

/// A scratch database, a temporary project directory holding `plans/`, and a connection for
/// the test's own SQL. `close()` removes all three.
final class EngineFixture: @unchecked Sendable {
    let db: ScratchDatabase
    let root: String
    /// The test's own session (setup, inspection); never handed to another thread.
    let sql: Connection

    init(_ label: String) throws {
        db = try TestDatabase.create(label)
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("bellows-engine-\(label)-\(UUID().uuidString)").path
        do {
            try FileManager.default.createDirectory(atPath: root + "/plans", withIntermediateDirectories: true)
            sql = try db.connect()
        } catch {
            db.drop()
            throw error
        }
    }

    func close() {
        sql.close()
        db.drop()
        try? FileManager.default.removeItem(atPath: root)
    }

    var project: Project { Project(root: root) }

    /// A second project on the same database (another team's `plans/`), under this fixture's root.
    func otherProject(_ name: String = "other") throws -> Project {
        let other = root + "/\(name)"
        try FileManager.default.createDirectory(atPath: other + "/plans", withIntermediateDirectories: true)
        return Project(root: other)
    }

    /// Writes `plans/<id>.yaml` of `project`.
    func writePlan(_ id: String, _ yaml: String, in project: Project) throws {
        try yaml.write(toFile: project.root + "/plans/\(id).yaml", atomically: true, encoding: .utf8)
    }

    @discardableResult
    func run(_ command: PhaseCommand, _ plan: String, in project: Project, _ configure: (inout EngineOptions) -> Void = { _ in }) throws -> PhaseOutcome {
        try Engine(project: project, options: options(configure)).run(command, plan: plan)
    }

    func planPath(_ id: String) -> String { root + "/plans/\(id).yaml" }

    /// Writes `plans/<id>.yaml`; the id is the plan's identity.
    @discardableResult
    func writePlan(_ id: String, _ yaml: String) throws -> String {
        let path = planPath(id)
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Engine options for this database: small batches, no pause, a test actor.
    func options(_ configure: (inout EngineOptions) -> Void = { _ in }) -> EngineOptions {
        var options = EngineOptions(conninfo: db.conninfo, actor: "engine-tests")
        options.batchSize = 250
        options.pauseMilliseconds = 0
        configure(&options)
        return options
    }

    func engine(_ configure: (inout EngineOptions) -> Void = { _ in }, reporter: @escaping Reporter = { _ in }) -> Engine {
        Engine(project: project, options: options(configure), reporter: reporter)
    }

    @discardableResult
    func run(_ command: PhaseCommand, _ plan: String, _ configure: (inout EngineOptions) -> Void = { _ in }) throws -> PhaseOutcome {
        try engine(configure).run(command, plan: plan)
    }

    /// Runs the forward commands from expand up to and including `last`.
    func forward(_ plan: String, through last: PhaseCommand, _ configure: (inout EngineOptions) -> Void = { _ in }) throws {
        for command in [PhaseCommand.expand, .backfill, .verify, .contract] {
            try run(command, plan, configure)
            if command == last { return }
        }
    }

    // MARK: SQL helpers

    func exec(_ script: String) throws { try sql.executeScript(script) }

    /// Every row as text values, in the query's order.
    func rows(_ query: String, _ parameters: [(any PostgresBindable)?] = []) throws -> [[String?]] {
        try sql.query(query, parameters).map(\.values)
    }

    func int(_ query: String, _ parameters: [(any PostgresBindable)?] = []) throws -> Int {
        let row = try #require(try sql.query(query, parameters).first)
        let value = try #require(row.values.first ?? nil)
        return try #require(Int(value))
    }

    func snapshot(_ table: String) throws -> CatalogSnapshot {
        try CatalogSnapshot.take(sql, table: try #require(TableName(parsing: table)))
    }

    func state(_ plan: String) throws -> PlanState? {
        guard try int("SELECT (to_regclass('bellows.plans') IS NOT NULL)::int") == 1 else { return nil }
        return try StateStore.plan(sql, id: plan)
    }

    func events(_ plan: String) throws -> [PlanEvent] {
        guard try int("SELECT (to_regclass('bellows.events') IS NOT NULL)::int") == 1 else { return [] }
        return try StateStore.events(sql, plan: plan)
    }

    /// Backends of this database whose application_name is `bellows`.
    func bellowsBackends() throws -> [Int] {
        try sql.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bellows'")
            .map { try $0.int("pid") }
    }
}

// MARK: - Refusals

/// Runs `body`, which must be refused; returns the refusal (and records an issue otherwise).
@discardableResult
func expectRefusal(_ body: () throws -> Any, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Refusal? {
    do {
        let value = try body()
        Issue.record("expected a refusal, the command ran: \(value)", sourceLocation: sourceLocation)
    } catch BellowsError.refused(let refusal) {
        return refusal
    } catch {
        Issue.record("expected a refusal, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

extension Refusal {
    var gates: [String] { failures.map(\.gate) }
    var text: String { failures.map { "[\($0.gate)] \($0.message)" }.joined(separator: "\n") }
}

// MARK: - Comparing table shapes

extension CatalogSnapshot {
    /// The lines without column numbers (a rebuilt column gets a new attnum) and with a schema
    /// renamed, sorted: two tables of the same intended shape compare equal.
    func shape(renamingSchema from: String? = nil, to: String = "public") -> [String] {
        lines.map { line -> String in
            var text = line
            if text.hasPrefix("column "), let space = text.dropFirst(7).firstIndex(of: " ") {
                text = "column " + text[text.index(after: space)...]
            }
            if let from { text = text.replacingOccurrences(of: " ON \(from).", with: " ON \(to).") }
            return text
        }.sorted()
    }
}

// MARK: - Threads

/// A flag and a list shared between threads, behind a lock.
final class Shared<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func read<T>(_ body: (Value) -> T) -> T {
        lock.lock(); defer { lock.unlock() }
        return body(value)
    }

    func update<T>(_ body: (inout Value) -> T) -> T {
        lock.lock(); defer { lock.unlock() }
        return body(&value)
    }

    var current: Value { read { $0 } }
}

/// Starts `body` on its own thread; `join()` waits for it to return.
final class Worker: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let done = self.done
        let thread = Thread {
            body()
            done.signal()
        }
        thread.name = name
        thread.stackSize = 4 << 20
        thread.start()
    }

    func join() { done.wait() }

    /// Waits at most `seconds`; true when the thread finished.
    func join(timeout seconds: Double) -> Bool { done.wait(timeout: .now() + seconds) == .success }
}

// MARK: - The bellows binary

/// The `bellows` executable built next to the test bundle (the same scratch directory), or
/// `$BELLOWS_BINARY`.
func bellowsBinary() -> String? {
    let fm = FileManager.default
    var candidates: [String] = []
    if let explicit = ProcessInfo.processInfo.environment["BELLOWS_BINARY"] { candidates.append(explicit) }
    var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(directory.appendingPathComponent("bellows").path)
        directory = directory.deletingLastPathComponent()
    }
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("bellows").path)
    return candidates.first { path in
        var isDirectory: ObjCBool = false
        return fm.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue && fm.isExecutableFile(atPath: path)
    }
}

/// A `bellows` child process with its output in a file.
final class BellowsProcess {
    let process = Process()
    let outputPath: String

    init(binary: String, arguments: [String], outputPath: String) throws {
        self.outputPath = outputPath
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    func kill9() { kill(process.processIdentifier, SIGKILL) }

    /// Waits for the process to end, at most `seconds`; the exit status, nil on timeout.
    func wait(timeout seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() > deadline { return nil }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return process.terminationStatus
    }
}

/// Polls `condition` every 20 ms for at most `seconds`; true once it holds.
func eventually(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while true {
        if try condition() { return true }
        if Date() > deadline { return false }
        Thread.sleep(forTimeInterval: 0.02)
    }
}
