import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// The rehearsal of a `move_columns` plan (issue 23). The old version writes the moved columns
/// through the source, the new version through the new table (from backfill on, when its rows
/// exist), each copying another row's values (any type, every carried CHECK holds). The two
/// versions write disjoint halves of the keys: a row written through both tables at once by
/// two transactions can deadlock (each waits for the other's trigger), which is the
/// applications' to avoid, not the plan's to prove (docs/plans.md).
extension Rehearsal {
    func forwardMove(_ plan: Plan, conninfo: String) throws {
        let connection = try Connection(conninfo)
        defer { connection.close() }
        let compiled = MoveCompiler.compile(plan, table: try CatalogReader.table(connection, plan.table.value))
        guard let move = compiled.move else {
            result.violations += compiled.findings.isEmpty ? ["\(plan.table.location): table \(plan.table.value) does not exist after the migrations"]
                                                          : compiled.findings.map(\.description)
            return
        }
        let engine = engine(conninfo: conninfo, plan: plan)
        let writers = MoveWriters(conninfo: conninfo, move: move)
        let steps: [(PhaseCommand, old: Bool, new: Bool)] = [(.expand, true, false), (.backfill, true, true), (.verify, true, true), (.contract, false, true)]
        writers.set(old: true, new: false)
        Thread.sleep(forTimeInterval: options.trafficLeadSeconds)
        _ = writers.take()
        for (command, old, new) in steps {
            writers.set(old: old, new: new)
            Thread.sleep(forTimeInterval: options.trafficLeadSeconds)
            let started = Date()
            var outcome = "ok"
            var rows: Int?
            do {
                let phase = try engine.run(command, plan: plan.file)
                if case .int(let n)? = phase.details["rows_updated"] { rows = n }
            } catch let error as BellowsError {
                outcome = "failed"
                result.violations.append("\(plan.id): \(command.rawValue) under traffic: \(explain(error, plan: plan))")
            }
            Thread.sleep(forTimeInterval: options.trafficTailSeconds)
            let stats = command == .contract ? writers.stop() : writers.take()
            result.steps.append(RehearsalStep(plan: plan.id, phase: command.rawValue, seconds: Date().timeIntervalSince(started),
                                              rows: rows, traffic: stats, outcome: outcome))
            checkTraffic(stats, plan: plan, phase: command.rawValue)
            if outcome != "ok" { _ = writers.stop(); return }
        }
        // After contract: the moved columns only in the new table, one row per source row, no trigger left.
        let sql = MoveSQL(move)
        let left = try connection.query("SELECT count(*) AS n FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = ANY($2::text[]) AND NOT attisdropped",
                                        [move.quotedSource, PostgresArray.literal(move.movedNames)]).first?.int("n") ?? 0
        if left > 0 { result.violations.append("\(plan.id): the moved columns are still in \(move.sourceName) after contract") }
        let keys = move.keyNames.map(SQLQuote.identifier).joined(separator: ", ")
        let missing = try connection.query("SELECT count(*) AS n FROM \(move.quotedSource) AS s WHERE NOT EXISTS (SELECT FROM \(move.quotedTarget) AS t WHERE ROW(\(move.keyNames.map { "t.\(SQLQuote.identifier($0))" }.joined(separator: ", "))) = ROW(\(move.keyNames.map { "s.\(SQLQuote.identifier($0))" }.joined(separator: ", "))))").first?.int("n") ?? 0
        if missing > 0 { result.violations.append("\(plan.id): after contract, \(missing) row(s) of \(move.sourceName) have no row in \(move.targetName) (key \(keys))") }
        let triggers = try connection.query("SELECT count(*) AS n FROM pg_trigger WHERE tgname = $1", [sql.triggerName]).first?.int("n") ?? 0
        if triggers > 0 { result.violations.append("\(plan.id): a trigger of the move is left after contract") }
    }
}

/// Two writers (old and new version) of a move's columns, on their own connections.
final class MoveWriters: @unchecked Sendable {
    let conninfo: String
    let move: ColumnMove
    private let lock = NSLock()
    private var old = false, new = false, running = true
    private var stats = TrafficStats()
    private var threads: [Thread] = []
    private let finished = DispatchGroup()

    init(conninfo: String, move: ColumnMove) {
        self.conninfo = conninfo
        self.move = move
        for version in ["old", "new"] {
            finished.enter()
            let thread = Thread { [self] in
                self.loop(version)
                self.finished.leave()
            }
            thread.name = "bellows-move-\(version)"
            threads.append(thread)
            thread.start()
        }
    }

    func set(old: Bool, new: Bool) {
        lock.lock(); defer { lock.unlock() }
        self.old = old
        self.new = new
    }

    func take() -> TrafficStats {
        lock.lock(); defer { lock.unlock() }
        let taken = stats
        stats = TrafficStats()
        return taken
    }

    func stop() -> TrafficStats {
        lock.lock()
        running = false
        lock.unlock()
        finished.wait()
        return take()
    }

    /// One write: a row of the version's half of the keys gets another row's moved values.
    func statement(_ version: String) -> String {
        let table = version == "old" ? move.quotedSource : move.quotedTarget
        let keys = move.keyNames.map(SQLQuote.identifier).joined(separator: ", ")
        let columns = move.movedNames.map(SQLQuote.identifier).joined(separator: ", ")
        let half = "abs(hashtext(ROW(\(keys))::text)) % 2 = \(version == "old" ? 0 : 1)"
        return """
            UPDATE \(table) SET (\(columns)) = (SELECT \(columns) FROM \(table) OFFSET floor(random() * $1)::int LIMIT 1)
            WHERE ROW(\(keys)) = (SELECT \(keys) FROM \(table) WHERE \(half) OFFSET floor(random() * $1 / 2)::int LIMIT 1)
            """
    }

    private func loop(_ version: String) {
        guard let connection = try? Connection(conninfo) else { return }
        defer { connection.close() }
        _ = try? connection.execute("SET application_name = 'bellows-rehearsal-\(version)'")
        let sql = statement(version)
        var rows = 0
        var since = Date.distantPast
        while true {
            lock.lock()
            let go = running, active = version == "old" ? old : new
            lock.unlock()
            guard go else { return }
            guard active else { Thread.sleep(forTimeInterval: 0.02); continue }
            if Date().timeIntervalSince(since) > 1 {
                let table = version == "old" ? move.quotedSource : move.quotedTarget
                rows = (try? connection.query("SELECT count(*) AS n FROM \(table)").first?.int("n")) ?? 0
                since = Date()
            }
            guard rows > 0 else { Thread.sleep(forTimeInterval: 0.02); continue }
            let started = Date()
            var failure: String?
            do { try connection.execute(sql, [rows]) } catch { failure = "\(version) version: \(error.sqlState.map { "\($0) " } ?? "")\(error.message)" }
            let milliseconds = Date().timeIntervalSince(started) * 1000
            lock.lock()
            stats.statements += 1
            if let failure { stats.failures.append(failure) }
            stats.longestMilliseconds = max(stats.longestMilliseconds, milliseconds)
            lock.unlock()
            Thread.sleep(forTimeInterval: 0.005)
        }
    }
}
