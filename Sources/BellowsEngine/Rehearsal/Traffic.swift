import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// What the simulated application did during one phase.
public struct TrafficStats: Sendable, Hashable {
    public var statements = 0
    public var failures: [String] = []
    public var longestMilliseconds: Double = 0

    mutating func merge(_ other: TrafficStats) {
        statements += other.statements
        failures += other.failures
        longestMilliseconds = max(longestMilliseconds, other.longestMilliseconds)
    }
}

/// Simulated application traffic on a plan's table: old-version writers using the old
/// columns, new-version writers using the new ones, inserts, updates and deletes. Every write
/// records, in the same statement, what the row must hold after contract
/// (`bellows_rehearsal.expected`), so the rehearsal can prove no row and no write was lost.
final class TrafficSimulator: @unchecked Sendable {
    enum Writer: String { case old, new }

    let conninfo: String
    let transition: Transition
    let table: DataGenerator.Table
    private let lock = NSLock()
    private var stats = TrafficStats()
    private var activeWriters: Set<String> = []
    private var stopping = false
    private var threads: [Thread] = []
    private var finished = 0
    private var counter = 0
    private var keys: [[String]] = []
    private var insertedKeys: [[String]] = []

    init(conninfo: String, transition: Transition, table: DataGenerator.Table) {
        self.conninfo = conninfo
        self.transition = transition
        self.table = table
    }

    // MARK: SQL

    var keyColumns: [ColumnInfo] { transition.key }
    var keyRow: String { "ROW(" + keyColumns.map { SQLQuote.identifier($0.name) }.joined(separator: ", ") + ")::text" }
    var keyTexts: String { keyColumns.map { "\(SQLQuote.identifier($0.name))::text" }.joined(separator: ", ") }
    var keyMatch: String {
        "(" + keyColumns.map { SQLQuote.identifier($0.name) }.joined(separator: ", ") + ") = ("
            + keyColumns.enumerated().map { "$\($0.offset + 1)::\($0.element.type)" }.joined(separator: ", ") + ")"
    }

    /// Targets with an `up`, in order: what the expectation rows hold.
    var expectedTargets: [TransitionTarget] { transition.allTargets.filter { $0.up != nil } }

    /// `ROW(up…)::text` over the row's current (old) columns.
    var expectedFromOld: String {
        "ROW(" + expectedTargets.map { "(\($0.up ?? "NULL"))::\($0.type)" }.joined(separator: ", ") + ")::text"
    }

    /// `ROW(…)::text` of the targets new code writes itself (never shadows: their names are
    /// the same before and after contract).
    var expectedFromNew: String {
        "ROW(" + writableTargets.map { SQLQuote.identifier($0.final) }.joined(separator: ", ") + ")::text"
    }

    func generated(_ column: DataGenerator.Column, g: String, allowNull: Bool = true) -> String? {
        DataGenerator.expression(column, in: table, g: g, allowNull: allowNull) { parent, key in
            "(SELECT array_agg(\(SQLQuote.identifier(key))) FROM (SELECT \(SQLQuote.identifier(key)) FROM \(parent) ORDER BY 1 LIMIT 50) AS bellows_parent)"
        }
    }

    var sources: [DataGenerator.Column] {
        let names = Set(transition.groups.filter { $0.kind == .replace || $0.kind == .inPlace }.flatMap(\.sources))
        return table.columns.filter { names.contains($0.name) && !$0.skip }
    }

    /// Targets a new-version writer sets directly (never Bellows' internal shadow columns, nor
    /// the replacement of an identity or serial column: the database numbers those rows).
    var writableTargets: [TransitionTarget] {
        let numbered = Set(table.columns.filter(\.skip).map(\.name))
        return transition.groups.filter { $0.kind == .replace && numbered.isDisjoint(with: $0.sources) }
            .flatMap(\.targets).filter { !$0.isShadow && $0.up != nil }
    }

    /// Wraps a write whose RETURNING gives `k` (key) and `e` (old-code expectation over every
    /// target) or `en` (new-code expectation over the targets it wrote) so the expectation is
    /// recorded in the same statement.
    func record(_ cte: String) -> String {
        """
        WITH w AS (\(cte))
        INSERT INTO bellows_rehearsal.expected (k, e, en) SELECT k, e, en FROM w
        ON CONFLICT (k) DO UPDATE SET e = excluded.e, en = excluded.en, deleted = false
        """
    }

    func oldUpdate(g: String) -> String? {
        let sets = sources.compactMap { c in generated(c, g: g).map { "\(SQLQuote.identifier(c.name)) = \($0)" } }
        guard !sets.isEmpty else { return nil }
        return record("UPDATE \(transition.quotedTable) SET \(sets.joined(separator: ", ")) WHERE \(keyMatch) RETURNING \(keyRow) AS k, \(expectedFromOld) AS e, NULL::text AS en")
    }

    func newUpdate(g: String, contracted: Bool) -> String? {
        let targets = writableTargets
        guard !targets.isEmpty else { return nil }
        let values = sources.compactMap { c in generated(c, g: g).map { "\($0) AS \(SQLQuote.identifier(c.name))" } }
        guard !values.isEmpty else { return nil }
        let columns = targets.map { SQLQuote.identifier(contracted ? $0.final : $0.physical) }.joined(separator: ", ")
        let ups = targets.map { "(\($0.up ?? "NULL"))::\($0.type)" }.joined(separator: ", ")
        return record("UPDATE \(transition.quotedTable) SET (\(columns)) = (SELECT \(ups) FROM (SELECT \(values.joined(separator: ", "))) AS bellows_g) WHERE \(keyMatch) RETURNING \(keyRow) AS k, NULL::text AS e, \(expectedFromNew) AS en")
    }

    func insert(_ writer: Writer, g: String, contracted: Bool) -> String {
        var names: [String] = []
        var values: [String] = []
        let sourceNames = Set(sources.map(\.name))
        for column in table.columns {
            if writer == .new && sourceNames.contains(column.name) { continue }
            if writer == .new && contracted && transition.droppedColumns.contains(column.name) { continue }
            guard let value = generated(column, g: g) else { continue }
            names.append(SQLQuote.identifier(column.name))
            values.append(value)
        }
        var expected = "\(expectedFromOld) AS e, NULL::text AS en"
        if writer == .new {
            // New code writes in-place columns already in their new form (after contract no trigger helps).
            for group in transition.groups where group.kind == .inPlace {
                for target in group.targets where target.up != nil {
                    guard let column = table.columns.first(where: { $0.name == target.physical }),
                          let value = generated(column, g: g, allowNull: !target.notNull) else { continue }
                    names.append(SQLQuote.identifier(target.physical))
                    let others = Set(table.columns.map(\.name)).subtracting([target.physical])
                    if let up = target.up, ExpressionRewriter.referencedColumns(in: up, among: others).isEmpty {
                        values.append("(SELECT (\(up))::\(target.type) FROM (SELECT \(value) AS \(SQLQuote.identifier(target.physical))) AS bellows_g)")
                    } else {
                        values.append(value)
                    }
                }
            }
            let rowValues = sources.compactMap { c in generated(c, g: g).map { "\($0) AS \(SQLQuote.identifier(c.name))" } }
            for target in writableTargets {
                names.append(SQLQuote.identifier(contracted ? target.final : target.physical))
                values.append("(SELECT (\(target.up ?? "NULL"))::\(target.type) FROM (SELECT \(rowValues.joined(separator: ", "))) AS bellows_g)")
            }
            expected = "NULL::text AS e, \(expectedFromNew) AS en"
        }
        let insert = "INSERT INTO \(transition.quotedTable) (\(names.joined(separator: ", "))) VALUES (\(values.joined(separator: ", "))) ON CONFLICT DO NOTHING RETURNING \(keyRow) AS k, \(expected), ARRAY[\(keyTexts)] AS key"
        return """
        WITH w AS (\(insert)), r AS (
          INSERT INTO bellows_rehearsal.expected (k, e, en) SELECT k, e, en FROM w
          ON CONFLICT (k) DO UPDATE SET e = excluded.e, en = excluded.en, deleted = false)
        SELECT key FROM w
        """
    }

    var delete: String {
        """
        WITH w AS (DELETE FROM \(transition.quotedTable) WHERE \(keyMatch) RETURNING \(keyRow) AS k)
        UPDATE bellows_rehearsal.expected AS x SET deleted = true FROM w WHERE x.k = w.k
        """
    }

    // MARK: Running

    /// Records what every existing row must hold after contract.
    static func prepare(_ connection: Connection, transition: Transition, simulator: TrafficSimulator) throws {
        try connection.execute("CREATE SCHEMA IF NOT EXISTS bellows_rehearsal")
        try connection.execute("DROP TABLE IF EXISTS bellows_rehearsal.expected")
        try connection.execute("CREATE TABLE bellows_rehearsal.expected (k text PRIMARY KEY, e text, en text, deleted boolean NOT NULL DEFAULT false)")
        try connection.execute("INSERT INTO bellows_rehearsal.expected (k, e) SELECT \(simulator.keyRow), \(simulator.expectedFromOld) FROM \(transition.quotedTable)")
        simulator.keys = try connection.query("SELECT ARRAY[\(simulator.keyTexts)] AS key FROM \(transition.quotedTable) ORDER BY random() LIMIT 2000")
            .map { try $0.stringArray("key") }
    }

    /// Starts or stops kinds of writers; each runs on its own thread and connection.
    func set(old: Bool, new: Bool, contracted: Bool = false) {
        lock.lock()
        let wanted: Set<String> = Set((old ? ["old"] : []) + (new ? ["new"] : []))
        let toStart = wanted.subtracting(activeWriters)
        activeWriters = wanted
        self.contracted = contracted
        lock.unlock()
        for kind in toStart {
            let thread = Thread { [self] in self.loop(Writer(rawValue: kind) ?? .old) }
            thread.start()
            lock.lock(); threads.append(thread); lock.unlock()
        }
    }

    private var contracted = false

    /// Stops all writers, waits for them, returns and resets the statistics.
    func stop() -> TrafficStats {
        lock.lock()
        activeWriters = []
        let count = threads.count
        lock.unlock()
        while true {
            lock.lock()
            let done = finished >= count
            lock.unlock()
            if done { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        lock.lock()
        let result = stats
        stats = TrafficStats()
        threads = []
        finished = 0
        lock.unlock()
        return result
    }

    /// Takes the statistics so far without stopping.
    func take() -> TrafficStats {
        lock.lock(); defer { lock.unlock() }
        let result = stats
        stats = TrafficStats()
        return result
    }

    private func active(_ writer: Writer) -> (Bool, Bool) {
        lock.lock(); defer { lock.unlock() }
        return (activeWriters.contains(writer.rawValue), contracted)
    }

    private func nextG() -> Int {
        lock.lock(); defer { lock.unlock() }
        counter += 1
        return 50_000_000 + counter
    }

    private func randomKey(inserted: Bool) -> [String]? {
        lock.lock(); defer { lock.unlock() }
        if inserted {
            guard !insertedKeys.isEmpty else { return nil }
            return insertedKeys.remove(at: Int.random(in: 0..<insertedKeys.count))
        }
        return keys.randomElement()
    }

    private func loop(_ writer: Writer) {
        defer { lock.lock(); finished += 1; lock.unlock() }
        guard let connection = try? Connection(conninfo) else {
            lock.lock(); stats.failures.append("\(writer.rawValue) writer could not connect"); lock.unlock()
            return
        }
        _ = try? connection.execute("SET application_name = 'bellows-rehearsal-\(writer.rawValue)'")
        var local = TrafficStats()
        func flush() {
            lock.lock(); stats.merge(local); lock.unlock()
            local = TrafficStats()
        }
        while true {
            let (isActive, contracted) = active(writer)
            guard isActive else { break }
            let g = String(nextG())
            let choice = Int.random(in: 0..<10)
            var sql: String?
            var parameters: [(any PostgresBindable)?] = []
            var isInsert = false
            switch choice {
            case 0..<5:
                if let key = randomKey(inserted: false) {
                    sql = writer == .old ? oldUpdate(g: g) : newUpdate(g: g, contracted: contracted)
                    parameters = key
                }
            case 5..<8:
                sql = insert(writer, g: g, contracted: contracted)
                isInsert = true
            default:
                if let key = randomKey(inserted: true) { sql = delete; parameters = key }
            }
            guard let sql else { Thread.sleep(forTimeInterval: 0.002); continue }
            let started = Date()
            do {
                let rows = try connection.query(sql, parameters)
                if isInsert, let key = try rows.first?.stringArray("key") {
                    lock.lock(); insertedKeys.append(key); lock.unlock()
                }
            } catch {
                local.failures.append("\(writer.rawValue) writer: \(error.sqlState?.rawValue ?? "connection") \(error.message)")
            }
            local.statements += 1
            local.longestMilliseconds = max(local.longestMilliseconds, Date().timeIntervalSince(started) * 1000)
            if local.statements % 20 == 0 { flush() }
            Thread.sleep(forTimeInterval: 0.003)
        }
        flush()
        connection.close()
    }

    /// Rows whose final values differ from what was last written (or computed by up), and lost rows.
    func violations(_ connection: Connection) throws -> [String] {
        let final = "ROW(" + expectedTargets.map { "t." + SQLQuote.identifier($0.final) }.joined(separator: ", ") + ")::text"
        let finalWritten = "ROW(" + writableTargets.map { "t." + SQLQuote.identifier($0.final) }.joined(separator: ", ") + ")::text"
        let mismatch = "((x.e IS NOT NULL AND \(final) IS DISTINCT FROM x.e) OR (x.e IS NULL AND x.en IS NOT NULL AND \(finalWritten) IS DISTINCT FROM x.en))"
        let keyColumns = self.keyColumns.map { "t.\(SQLQuote.identifier($0.name))" }
        let keyRow = "ROW(" + keyColumns.joined(separator: ", ") + ")::text"
        var problems: [String] = []
        let lost = try connection.query("""
            SELECT count(*) AS n, (array_agg(x.k ORDER BY x.k))[1:5] AS sample FROM bellows_rehearsal.expected x
            WHERE NOT x.deleted AND NOT EXISTS (SELECT 1 FROM \(transition.quotedTable) t WHERE \(keyRow) = x.k)
            """).first
        if let lost, try lost.int("n") > 0 {
            problems.append("\(try lost.int("n")) row(s) lost, e.g. \(try lost.stringArray("sample").joined(separator: ", "))")
        }
        guard !expectedTargets.isEmpty else { return problems }
        let wrong = try connection.query("""
            SELECT count(*) AS n, (array_agg(x.k || ': ' || coalesce(\(final), 'NULL') || ' expected ' || coalesce(x.e, x.en, 'NULL') ORDER BY x.k))[1:3] AS sample
            FROM bellows_rehearsal.expected x JOIN \(transition.quotedTable) t ON \(keyRow) = x.k
            WHERE NOT x.deleted AND \(mismatch)
            """).first
        if let wrong, try wrong.int("n") > 0 {
            problems.append("\(try wrong.int("n")) row(s) hold the wrong value, e.g. \(try wrong.stringArray("sample").joined(separator: "; "))")
        }
        return problems
    }
}
