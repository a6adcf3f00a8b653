import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// What the simulated application did during one phase.
public struct TrafficStats: Sendable, Hashable {
    public var statements = 0
    public var failures: [String] = []
    /// What the simulated writers changed in their own values on the way (not failures).
    public var notes: [String] = []
    public var longestMilliseconds: Double = 0

    mutating func merge(_ other: TrafficStats) {
        statements += other.statements
        failures += other.failures
        notes += other.notes
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
    /// The row numbers every write draws from, shared by all plans of the rehearsal.
    let rowNumbers: RowNumbers
    /// Columns the plan creates (`add`, split and merge targets) as the generator sees them,
    /// by physical name: filled by `prepare` from their types.
    private(set) var createdColumns: [String: DataGenerator.Column] = [:]
    private let lock = NSLock()
    private var stats = TrafficStats()
    private var activeWriters: Set<String> = []
    private var stopping = false
    private var threads: [Thread] = []
    private var finished = 0
    private var keys: [[String]] = []
    /// Multi-column UNIQUEs the plan adds: not enforced while expand builds their index, so an
    /// INSERT leaves out a row whose key the table already holds (the build would fail on it).
    var pendingUniqueKeys: [[String]] = []
    private var insertedKeys: [[String]] = []
    /// Columns the writers write NULL in: values drawn column by column broke a CHECK across
    /// columns (`closed_on >= opened_on`), which no real application would write (`adapt`).
    private var nulledColumns: Set<String> = []
    private func isNulled(_ column: String) -> Bool { lock.lock(); defer { lock.unlock() }; return nulledColumns.contains(column) }
    /// The columns the plan reads, writes or drops (its changes' sources, its new columns):
    /// never made NULL by `adapt`, so that the trigger and the backfill keep seeing the
    /// writers' values in them.
    let planColumns: Set<String>
    /// The CHECKs the plan adds that can be tested on the table as it is (`PlannedCheck`): each
    /// write tests them in its RETURNING and fails as the constraint will from expand on — also
    /// before expand, where a row that breaks one would make verify's VALIDATE fail — so the
    /// writers adapt (`adapt`) instead.
    private(set) var plannedChecks: [PlannedCheck] = []

    init(conninfo: String, transition: Transition, table: DataGenerator.Table, rowNumbers: RowNumbers) {
        self.conninfo = conninfo
        self.transition = transition
        planColumns = Set(transition.groups.flatMap { $0.sources + $0.targets.map(\.physical) } + transition.droppedColumns)
        self.table = table
        self.rowNumbers = rowNumbers
    }

    // MARK: SQL

    /// The table under its name after contract: a plan that renames it (`rename_table_to`)
    /// gives the new version the new name from expand on (a view until contract).
    var finalTable: String { SQLQuote.qualified(schema: transition.table.schema, name: transition.plan.finalTableName.name) }

    var keyColumns: [ColumnInfo] { transition.key }

    /// Where a writer's statements go. With versioned schemas (docs/versions.md), once expand
    /// made them, each version's writers set `search_path` to their version's schema and name
    /// the table unqualified, so they write through its view, the new version's by final
    /// names only; before (and without them), the table itself, qualified.
    struct Route {
        var relation: String
        /// Old name → the name this writer uses: a column renamed in place (`strategy: views`),
        /// for the new version.
        var names: [String: String] = [:]
        /// Whether the writer writes by final names (through the new version's view, or after contract).
        var finalNames = false

        func name(_ column: String) -> String { SQLQuote.identifier(names[column] ?? column) }
    }

    /// The route of `writer` with the schemas made (`throughSchemas`) or not, and contract run or not.
    func route(_ writer: Writer, throughSchemas: Bool, contracted: Bool) -> Route {
        // `rename_table_to`: the new version uses the new name (the view until contract).
        let relation = writer == .new && transition.plan.renameTableTo != nil ? finalTable
            : throughSchemas ? SQLQuote.identifier(transition.table.name) : transition.quotedTable
        guard writer == .new else { return Route(relation: relation) }
        let renamed = Dictionary(transition.renamedInPlace.map { ($0.old, $0.new) }, uniquingKeysWith: { a, _ in a })
        let moved = throughSchemas || contracted
        return Route(relation: relation, names: moved ? renamed : [:], finalNames: moved)
    }

    /// The route of the rehearsal's own reads and of the expectations: the table.
    var tableRoute: Route { Route(relation: transition.quotedTable) }

    /// The `search_path` a writer of `writer`'s version sets, when the plan has versioned schemas.
    func searchPath(_ writer: Writer) -> String? {
        guard transition.plan.versionedSchemas else { return nil }
        return VersionSchemas(transition).searchPath(writer == .old ? .old : .new)
    }
    /// `ON CONFLICT` without a target takes every unique index as an arbiter, which PostgreSQL
    /// refuses when one is deferrable (55000): then only the key's, `(key) `.
    func conflictTarget(_ route: Route) -> String {
        guard transition.table.constraints.contains(where: { $0.kind == "u" && !$0.deferrability.isEmpty }) else { return "" }
        return "(" + keyColumns.map { route.name($0.name) }.joined(separator: ", ") + ") "
    }
    var keyRow: String { keyRow(tableRoute) }
    var keyTexts: String { keyTexts(tableRoute) }
    func keyRow(_ route: Route) -> String { "ROW(" + keyColumns.map { route.name($0.name) }.joined(separator: ", ") + ")::text" }
    func keyTexts(_ route: Route) -> String { keyColumns.map { "\(route.name($0.name))::text" }.joined(separator: ", ") }
    func keyMatch(_ route: Route) -> String {
        "(" + keyColumns.map { route.name($0.name) }.joined(separator: ", ") + ") = ("
            + keyColumns.enumerated().map { "$\($0.offset + 1)::\($0.element.type)" }.joined(separator: ", ") + ")"
    }

    /// Targets with an `up`, in order: what the expectation rows hold.
    var expectedTargets: [TransitionTarget] { transition.allTargets.filter { $0.up != nil } }

    /// `value` of `target` as the expectations compare it: itself, or only whether it is
    /// there when `up` does not repeat (`random()`, `now()`…: a second evaluation differs).
    func observed(_ target: TransitionTarget, _ value: String) -> String {
        transition.repeats(target) ? value : "CASE WHEN (\(value)) IS NULL THEN NULL ELSE 'present' END"
    }

    /// `ROW(up…)::text` over the row's current (old) columns.
    var expectedFromOld: String {
        "ROW(" + expectedTargets.map { observed($0, "(\($0.up ?? "NULL"))::\($0.type)") }.joined(separator: ", ") + ")::text"
    }

    /// `ROW(…)::text` of the targets new code writes itself, under their names before or after
    /// contract. An UPDATE sets only the replacing changes' columns: an added column of the row
    /// it leaves as it is, or as the backfill will compute it (`up`).
    func expectedFromNew(contracted: Bool, update: Bool = false) -> String {
        "ROW(" + writableTargets.map { target in
            let name = SQLQuote.identifier(contracted ? target.final : target.physical)
            guard update, !isReplacing(target), let up = target.up else { return observed(target, name) }
            return observed(target, "coalesce(\(name), (\(up))::\(target.type))")
        }.joined(separator: ", ") + ")::text"
    }

    func isReplacing(_ target: TransitionTarget) -> Bool {
        transition.groups.contains { $0.kind == .replace && $0.targets.contains(target) }
    }

    func generated(_ column: DataGenerator.Column, g: String, allowNull: Bool = true, useDefault: Bool = true) -> String? {
        if allowNull && isNulled(column.name) { return "NULL::\(column.type)" }
        return DataGenerator.expression(column, in: table, g: g, allowNull: allowNull, useDefault: useDefault) { parent, key, orderedBy in
            // The parent's first rows (in the order of the whole key: one index, one row).
            let order = orderedBy.map(SQLQuote.identifier).joined(separator: ", ")
            let present = orderedBy.map { "\(SQLQuote.identifier($0)) IS NOT NULL" }.joined(separator: " AND ")
            return "(SELECT array_agg(\(SQLQuote.identifier(key)) ORDER BY \(order)) FROM (SELECT \(order) FROM \(parent) WHERE \(present) ORDER BY \(order) LIMIT 50) AS bellows_parent)"
        }
    }

    /// Old columns that replacing and in-place changes read: what old code's UPDATEs set.
    var sources: [DataGenerator.Column] {
        let names = Set(transition.groups.filter { $0.kind == .replace || $0.kind == .inPlace }.flatMap(\.sources))
        return table.columns.filter { names.contains($0.name) && !$0.skip }
    }

    /// Columns that are or become NOT NULL: no writer puts NULL in them (old code of a plan
    /// that makes a column NOT NULL already writes values; `up` of NULL is NULL).
    var neverNull: Set<String> {
        var names = Set(table.columns.filter(\.notNull).map(\.name))
        for group in transition.groups where group.kind == .replace || group.kind == .inPlace {
            if group.targets.contains(where: \.notNull) { names.formUnion(group.sources) }
        }
        return names
    }

    /// Columns whose default the plan drops: new code writes them.
    var defaultDropped: Set<String> {
        Set(transition.allTargets.filter { $0.existing && $0.defaultAtContract == .drop }.map(\.physical))
    }

    /// Targets a new-version writer sets directly: the new columns of replacing changes (a
    /// column rebuilt under its own name included, under its `_bellows_` name until contract)
    /// and added columns. Never the replacement of an identity or serial column (the database
    /// numbers those rows).
    var writableTargets: [TransitionTarget] {
        let numbered = Set(table.columns.filter(\.skip).map(\.name))
        return transition.groups.filter { ($0.kind == .replace && numbered.isDisjoint(with: $0.sources)) || $0.kind == .add }
            .flatMap(\.targets).filter { $0.up != nil || createdColumns[$0.physical] != nil }
    }

    /// The value new code writes into `target`: `up` over fresh values of the old columns for a
    /// replacing change, a value from the column's domain for an added one.
    func newValue(_ target: TransitionTarget, g: String) -> String? {
        if let column = createdColumns[target.physical], !isReplacing(target) {
            return generated(column, g: g, allowNull: !target.notNull, useDefault: false)
        }
        let never = neverNull
        let rowValues = sources.compactMap { c in generated(c, g: g, allowNull: !never.contains(c.name)).map { "\($0) AS \(SQLQuote.identifier(c.name))" } }
        guard let up = target.up else { return nil }
        return "(SELECT (\(up))::\(target.type) FROM (SELECT \(rowValues.joined(separator: ", "))) AS bellows_g)"
    }

    /// Wraps a write whose RETURNING gives `k` (key) and `e` (old-code expectation over every
    /// target) or `en` (new-code expectation over the targets it wrote) so the expectation is
    /// recorded in the same statement.
    func record(_ cte: String, _ route: Route) -> String {
        """
        WITH w AS (\(cte)\(checksReturned(route)))
        INSERT INTO bellows_rehearsal.expected (k, e, en) SELECT k, e, en FROM w\(checksHold(route))
        ON CONFLICT (k) DO UPDATE SET e = excluded.e, en = excluded.en, deleted = false
        """
    }

    /// Whether a write by `route` tests the planned CHECKs: only on the table itself by its
    /// names before the plan (a view of versioned schemas or of `rename_table_to`, or the table
    /// after contract, may not have them; PostgreSQL then tests the constraint itself).
    func testsPlannedChecks(_ route: Route) -> Bool {
        !plannedChecks.isEmpty && route.relation == transition.quotedTable && !route.finalNames
    }

    /// `, … AS broke` for a write's RETURNING: the names of the planned CHECKs the written row breaks.
    func checksReturned(_ route: Route) -> String {
        guard testsPlannedChecks(route) else { return "" }
        return ", array_remove(ARRAY[" + plannedChecks.enumerated().map { index, check in
            "CASE WHEN (\(check.overExisting ?? "true")) IS FALSE THEN '\(Self.plannedCheckPrefix)\(index)' END"
        }.joined(separator: ", ") + "], NULL) AS broke"
    }

    /// ` WHERE …` over the write's rows: fails the statement (23514) when one breaks a planned CHECK.
    func checksHold(_ route: Route) -> String { testsPlannedChecks(route) ? " WHERE bellows_rehearsal.fits(w.broke)" : "" }

    /// The constraint name `bellows_rehearsal.fits` raises for the planned CHECK of that index.
    static let plannedCheckPrefix = "bellows_rehearsal_planned_check_"

    /// The planned CHECK a write broke, by the constraint name of its error: the one `fits`
    /// raised, or the constraint expand added (`_bellows_<name>`) or contract named.
    func plannedCheck(named constraint: String) -> PlannedCheck? {
        if constraint.hasPrefix(Self.plannedCheckPrefix), let index = Int(constraint.dropFirst(Self.plannedCheckPrefix.count)),
           plannedChecks.indices.contains(index) { return plannedChecks[index] }
        return plannedChecks.first { $0.name == constraint || "_bellows_" + $0.name == constraint }
    }

    func oldUpdate(g: String, _ route: Route) -> String? {
        let never = neverNull
        var sets = sources.compactMap { c in generated(c, g: g, allowNull: !never.contains(c.name)).map { "\(SQLQuote.identifier(c.name)) = \($0)" } }
        guard !sets.isEmpty else { return nil }
        sets += nulledAlongside.map { "\(SQLQuote.identifier($0.name)) = NULL::\($0.type)" }
        return record("UPDATE \(route.relation) SET \(sets.joined(separator: ", ")) WHERE \(keyMatch(route)) RETURNING \(keyRow(route)) AS k, \(expectedFromOld) AS e, NULL::text AS en", route)
    }

    /// A column rebuilt under its own name (`alter: bio` with `type:`) by its old column: until
    /// contract both versions of the application write `bio` in its old type (the new one is
    /// the `_bellows_` shadow, which applications never use; docs/plans.md).
    var rebuiltInPlace: [String: DataGenerator.Column] {
        var result: [String: DataGenerator.Column] = [:]
        for group in transition.groups where group.kind == .replace {
            for target in group.targets where target.isShadow && group.sources.contains(target.final) {
                if let column = table.columns.first(where: { $0.name == target.final && !$0.skip }) { result[target.physical] = column }
            }
        }
        return result
    }

    /// The column new code writes for `target` and its value: the old column of a rebuilt
    /// one before contract, else the target under its name of the moment.
    func newWrite(_ target: TransitionTarget, g: String, contracted: Bool) -> (column: String, value: String)? {
        // (`contracted`: by final names, after contract or through the new version's view.)
        if !contracted, let old = rebuiltInPlace[target.physical] {
            return generated(old, g: g, allowNull: !neverNull.contains(old.name)).map { (SQLQuote.identifier(old.name), $0) }
        }
        return newValue(target, g: g).map { (SQLQuote.identifier(contracted ? target.final : target.physical), $0) }
    }

    func newUpdate(g: String, contracted: Bool, _ route: Route) -> String? {
        let contracted = contracted || route.finalNames
        let targets = writableTargets.filter(isReplacing)
        var writes = targets.compactMap { newWrite($0, g: g, contracted: contracted) }
        guard writes.count == targets.count else { return nil }
        // A column renamed in place (`strategy: views`) by its new name.
        let never = neverNull
        for column in sources where route.names[column.name] != nil {
            if let value = generated(column, g: g, allowNull: !never.contains(column.name)) { writes.append((route.name(column.name), value)) }
        }
        guard !writes.isEmpty else { return nil }
        writes += nulledAlongside.map { (SQLQuote.identifier($0.name), "NULL::\($0.type)") }
        let values = writes.map(\.value)
        let columns = writes.map(\.column).joined(separator: ", ")
        let set = writes.count == 1 ? "\(columns) = \(values[0])" : "(\(columns)) = ROW(\(values.joined(separator: ", ")))"
        return record("UPDATE \(route.relation) SET \(set) WHERE \(keyMatch(route)) RETURNING \(keyRow(route)) AS k, NULL::text AS e, \(expectedFromNew(contracted: contracted, update: true)) AS en", route)
    }

    /// An INSERT of old code (every column of the table as it was) or new code (the columns it
    /// keeps, in-place changes in their new form, and the new columns; never one a plan
    /// replaces or drops, from expand on).
    func insert(_ writer: Writer, g: String, contracted: Bool, _ route: Route? = nil) -> String {
        let route = route ?? tableRoute
        let contracted = contracted || route.finalNames
        var names: [String] = []
        var values: [String] = []
        let never = neverNull
        let gone = Set(transition.droppedColumns)
        let inPlace = Dictionary(transition.groups.filter { $0.kind == .inPlace }.flatMap(\.targets).map { ($0.physical, $0) },
                                 uniquingKeysWith: { first, _ in first })
        let dropsDefault = defaultDropped
        for column in table.columns {
            if writer == .new && gone.contains(column.name) { continue }
            let useDefault = !(writer == .new && dropsDefault.contains(column.name))
            guard let value = generated(column, g: g, allowNull: !never.contains(column.name), useDefault: useDefault) else { continue }
            names.append(route.name(column.name))
            // New code writes in-place columns already in their new form (after contract no trigger helps).
            if writer == .new, let target = inPlace[column.name], let up = target.up,
               ExpressionRewriter.referencedColumns(in: up, among: Set(table.columns.map(\.name)).subtracting([column.name])).isEmpty {
                values.append("(SELECT (\(up))::\(target.type) FROM (SELECT \(value) AS \(SQLQuote.identifier(column.name))) AS bellows_g)")
            } else {
                values.append(value)
            }
        }
        var expected = "\(expectedFromOld) AS e, NULL::text AS en"
        if writer == .new {
            for target in writableTargets {
                guard let write = newWrite(target, g: g, contracted: contracted) else { continue }
                names.append(write.column)
                values.append(write.value)
            }
            expected = "NULL::text AS e, \(expectedFromNew(contracted: contracted)) AS en"
        }
        var row = names.isEmpty ? "DEFAULT VALUES" : "(\(names.joined(separator: ", "))) VALUES (\(values.joined(separator: ", ")))"
        let position = Dictionary(names.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        let pending = pendingUniqueKeys.compactMap { key -> String? in
            let indexes = key.compactMap { position[SQLQuote.identifier($0)] }
            guard indexes.count == key.count, !key.isEmpty else { return nil }
            return "(" + key.map { "bellows_x.\(SQLQuote.identifier($0))" }.joined(separator: ", ") + ") = ("
                + indexes.map { "bellows_v.c\($0)" }.joined(separator: ", ") + ")"
        }
        if !pending.isEmpty {
            let aliases = names.indices.map { "c\($0)" }
            row = "(\(names.joined(separator: ", "))) SELECT \(aliases.map { "bellows_v.\($0)" }.joined(separator: ", ")) FROM (VALUES (\(values.joined(separator: ", ")))) AS bellows_v(\(aliases.joined(separator: ", ")))"
                + " WHERE NOT EXISTS (SELECT 1 FROM \(route.relation) AS bellows_x WHERE \(pending.joined(separator: " OR ")))"
        }
        let insert = "INSERT INTO \(route.relation) \(row) ON CONFLICT \(conflictTarget(route))DO NOTHING RETURNING \(keyRow(route)) AS k, \(expected), ARRAY[\(keyTexts(route))] AS key"
        return """
        WITH w AS (\(insert)\(checksReturned(route))), r AS (
          INSERT INTO bellows_rehearsal.expected (k, e, en) SELECT k, e, en FROM w\(checksHold(route))
          ON CONFLICT (k) DO UPDATE SET e = excluded.e, en = excluded.en, deleted = false)
        SELECT key FROM w
        """
    }

    func delete(_ route: Route) -> String {
        """
        WITH w AS (DELETE FROM \(route.relation) WHERE \(keyMatch(route)) RETURNING \(keyRow(route)) AS k)
        UPDATE bellows_rehearsal.expected AS x SET deleted = true FROM w WHERE x.k = w.k
        """
    }

    // MARK: Running

    /// Records what every existing row must hold after contract.
    /// `lists`: the values a CHECK the plan adds lists for a column (`source IN ('web', …)`),
    /// by final name: a column the plan creates takes them where no hint gives its values.
    static func prepare(_ connection: Connection, transition: Transition, simulator: TrafficSimulator, values: ValueDomains? = nil,
                        lists: [String: [String]] = [:]) throws {
        // The columns the plan creates, with what their types say about their values.
        for group in transition.groups where group.kind != .drop {
            for target in group.targets where !target.existing {
                var source = values?.source(table: simulator.table.name, column: target.final)
                if source == nil, let values, let list = lists[target.final] { source = .domain(try values.store(list, connection: connection)) }
                let type = try connection.query("""
                    SELECT t.typname, t.typcategory::text AS category, t.typtype = 'e' AS is_enum,
                           CASE WHEN t.typname IN ('varchar', 'bpchar') THEN substring($1 FROM '\\((\\d+)\\)')::int END AS max_length
                    FROM pg_type t WHERE t.oid = to_regtype($1)
                    """, [target.type]).first
                guard let type else { continue }
                simulator.createdColumns[target.physical] = DataGenerator.Column(
                    name: target.physical, type: target.type, typeName: try type.string("typname"), typeCategory: try type.string("category"),
                    isEnum: try type.bool("is_enum"), maxLength: try type.optionalInt("max_length"), notNull: target.notNull, hasDefault: false,
                    skip: false, unique: target.unique, foreignKey: nil,
                    values: source)
            }
        }
        try connection.execute("CREATE SCHEMA IF NOT EXISTS bellows_rehearsal")
        simulator.plannedChecks = PlannedCheck.of(transition.plan, existing: Set(simulator.table.columns.map(\.name)))
            .filter { $0.overExisting != nil }
        try connection.execute("""
            CREATE OR REPLACE FUNCTION bellows_rehearsal.fits(broke text[]) RETURNS boolean LANGUAGE plpgsql AS $$
            BEGIN
              IF cardinality(broke) > 0 THEN
                RAISE EXCEPTION 'the simulated write breaks a CHECK the plan adds (%)', broke[1]
                  USING ERRCODE = 'check_violation', CONSTRAINT = broke[1];
              END IF;
              RETURN true;
            END $$
            """)
        try connection.execute("DROP TABLE IF EXISTS bellows_rehearsal.expected")
        try connection.execute("CREATE TABLE bellows_rehearsal.expected (k text PRIMARY KEY, e text, en text, deleted boolean NOT NULL DEFAULT false)")
        try connection.execute("INSERT INTO bellows_rehearsal.expected (k, e) SELECT \(simulator.keyRow), \(simulator.expectedFromOld) FROM \(transition.quotedTable)")
        simulator.keys = try connection.query("SELECT ARRAY[\(simulator.keyTexts)] AS key FROM \(transition.quotedTable) ORDER BY random() LIMIT 2000")
            .map { try $0.stringArray("key") }
    }

    /// Starts or stops kinds of writers; each runs on its own thread and connection.
    /// `contracting`: contract is running (or done), so a new-code statement that names the
    /// transition's columns may meet the final shape.
    func set(old: Bool, new: Bool, contracted: Bool = false, contracting: Bool = false, schemasMade: Bool = false) {
        lock.lock()
        self.schemasMade = schemasMade
        let wanted: Set<String> = Set((old ? ["old"] : []) + (new ? ["new"] : []))
        let toStart = wanted.subtracting(activeWriters)
        activeWriters = wanted
        self.contracted = contracted
        self.contracting = contracting || contracted
        lock.unlock()
        for kind in toStart {
            let thread = Thread { [self] in self.loop(Writer(rawValue: kind) ?? .old) }
            thread.start()
            lock.lock(); threads.append(thread); lock.unlock()
        }
    }

    private var contracted = false
    private var contracting = false
    /// Expand made the plan's versioned schemas: writers go through them (`route`).
    private var schemasMade = false

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

    private func active(_ writer: Writer) -> (active: Bool, contracted: Bool, contracting: Bool, schemas: Bool) {
        lock.lock(); defer { lock.unlock() }
        return (activeWriters.contains(writer.rawValue), contracted, contracting, schemasMade)
    }

    private func nextG() -> Int { rowNumbers.next() }

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
        var throughSchemas = false
        while true {
            let (isActive, contracted, contracting, schemasMade) = active(writer)
            guard isActive else { break }
            // Each version through its own schema of views once expand made them (issue 23).
            if schemasMade, !throughSchemas, let path = searchPath(writer) {
                do {
                    try connection.execute("SET search_path TO \(path)")
                    throughSchemas = true
                } catch {
                    local.failures.append("\(writer.rawValue) writer: could not set search_path \(path): \(error.message)")
                    break
                }
            }
            let route = self.route(writer, throughSchemas: throughSchemas, contracted: contracted)
            let g = String(nextG())
            let choice = Int.random(in: 0..<10)
            var build: ((Bool) -> String?)?
            var parameters: [(any PostgresBindable)?] = []
            var isInsert = false
            switch choice {
            case 0..<5:
                if let key = randomKey(inserted: false) {
                    build = { contracted in writer == .old ? self.oldUpdate(g: g, route) : self.newUpdate(g: g, contracted: contracted, self.route(writer, throughSchemas: throughSchemas, contracted: contracted)) }
                    parameters = key
                }
            case 5..<8:
                build = { contracted in self.insert(writer, g: g, contracted: contracted, self.route(writer, throughSchemas: throughSchemas, contracted: contracted)) }
                isInsert = true
            default:
                if let key = randomKey(inserted: true) { build = { contracted in self.delete(self.route(writer, throughSchemas: throughSchemas, contracted: contracted)) }; parameters = key }
            }
            guard let build, let sql = build(contracted) else { Thread.sleep(forTimeInterval: 0.002); continue }
            let started = Date()
            func run(_ sql: String) throws(PostgresError) {
                let rows = try connection.query(sql, parameters)
                if isInsert, let key = try? rows.first?.stringArray("key") {
                    lock.lock(); insertedKeys.append(key); lock.unlock()
                }
            }
            do throws(PostgresError) {
                do throws(PostgresError) {
                    try run(sql)
                } catch where error.sqlState == .checkViolation {
                    // The generator's values, not Bellows, broke a CHECK: written again without them.
                    guard let note = adapt(to: error, connection: connection), let again = build(contracted) else { throw error }
                    if let note { local.notes.append("\(writer.rawValue) writer: \(note)") }
                    try run(again)
                }
            } catch {
                // A new-code statement built for the transition's shape that met contract's
                // final one (contract renamed or retyped its columns meanwhile): an application
                // sends its values untyped and by final name from then on, so it is sent again
                // in that form; only a failure of that counts.
                let raced = writer == .new && contracting && !contracted
                    && [.undefinedColumn, .datatypeMismatch].contains(error.sqlState)
                do throws(PostgresError) {
                    guard raced, let again = build(true) else { throw error }
                    try run(again)
                } catch {
                    local.failures.append(failure(writer, error))
                }
            }
            local.statements += 1
            local.longestMilliseconds = max(local.longestMilliseconds, Date().timeIntervalSince(started) * 1000)
            if local.statements % 20 == 0 { flush() }
            Thread.sleep(forTimeInterval: 0.003)
        }
        flush()
        connection.close()
    }

    /// The columns the writers write NULL in (`adapt`) that the plan leaves alone: an UPDATE
    /// that sets other columns sets these to NULL too, so that the row it leaves satisfies the
    /// CHECK that made them NULL (it reads the column the UPDATE sets and one it did not).
    var nulledAlongside: [DataGenerator.Column] {
        lock.lock()
        let nulled = nulledColumns
        lock.unlock()
        guard !nulled.isEmpty else { return [] }
        return table.columns.filter { nulled.contains($0.name) && !planColumns.contains($0.name) }
    }

    /// After a write broke CHECK `error.constraint`: the writers write NULL from now on in the
    /// columns it reads whose values the generator invented (`mayBeNulled`: nullable, no
    /// `rehearse: values:` hint) and that the plan leaves alone (`planColumns`: never a column
    /// the trigger or the backfill copies, nor one Bellows fills), and what it says of that
    /// (nil when another writer already made those columns NULL: the write is made again
    /// quietly); nil when nothing can be made NULL (the failure then counts).
    func adapt(to error: PostgresError, connection: Connection) -> String?? {
        guard let constraint = error.constraint,
              let read = plannedCheck(named: constraint).map({ Array($0.columns) })
                ?? (try? connection.query("""
                  SELECT a.attname FROM pg_constraint k JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY (k.conkey)
                  WHERE k.conrelid = $1::bigint::oid AND k.conname = $2 AND k.contype = 'c'
                  """, [table.oid, constraint]).compactMap({ try? $0.string("attname") })) else { return nil }
        let never = neverNull
        let columns = table.columns.filter { read.contains($0.name) && $0.mayBeNulled && !never.contains($0.name) && !planColumns.contains($0.name) }
            .map(\.name)
        lock.lock()
        let fresh = columns.filter { !nulledColumns.contains($0) }
        nulledColumns.formUnion(fresh)
        lock.unlock()
        guard !columns.isEmpty else { return nil }
        // Another writer made them NULL since this one built its statement: write again, no note.
        guard !fresh.isEmpty else { return .some(nil) }
        let check = plannedCheck(named: constraint).map { "the \($0.label), which the plan adds" } ?? "CHECK \(constraint)"
        return "its values broke \(check); it writes NULL in \(fresh.joined(separator: ", ")) from now on"
    }

    /// A write's failure as the rehearsal reports it: a planned CHECK by its name and place in
    /// the plan (not by the rehearsal's own name for it), with what to do.
    func failure(_ writer: Writer, _ error: PostgresError) -> String {
        if error.sqlState == .checkViolation, let constraint = error.constraint, let check = plannedCheck(named: constraint) {
            let read = table.columns.filter { check.columns.contains($0.name) }
            let hinted = read.filter(\.hinted).map(\.name)
            return "\(writer.rawValue) writer: 23514 its values break the \(check.label), which the plan adds: "
                + (hinted.isEmpty ? "the columns it reads cannot be left NULL; give them realistic values with `rehearse: values:`"
                                  : "the values `rehearse: values:` gives \(hinted.joined(separator: ", ")) break it, as rows holding them would in production")
        }
        return "\(writer.rawValue) writer: \(error.sqlState?.rawValue ?? "connection") \(error.message)"
    }

    /// Rows whose final values differ from what was last written (or computed by up), and lost rows.
    func violations(_ connection: Connection) throws -> [String] {
        let final = "ROW(" + expectedTargets.map { observed($0, "t." + SQLQuote.identifier($0.final)) }.joined(separator: ", ") + ")::text"
        let finalWritten = "ROW(" + writableTargets.map { observed($0, "t." + SQLQuote.identifier($0.final)) }.joined(separator: ", ") + ")::text"
        let mismatch = "((x.e IS NOT NULL AND \(final) IS DISTINCT FROM x.e) OR (x.e IS NULL AND x.en IS NOT NULL AND \(finalWritten) IS DISTINCT FROM x.en))"
        let keyColumns = self.keyColumns.map { "t.\(SQLQuote.identifier($0.name))" }
        let keyRow = "ROW(" + keyColumns.joined(separator: ", ") + ")::text"
        var problems: [String] = []
        let lost = try connection.query("""
            SELECT count(*) AS n, (array_agg(x.k ORDER BY x.k))[1:5] AS sample FROM bellows_rehearsal.expected x
            WHERE NOT x.deleted AND NOT EXISTS (SELECT 1 FROM \(finalTable) t WHERE \(keyRow) = x.k)
            """).first
        if let lost, try lost.int("n") > 0 {
            problems.append("\(try lost.int("n")) row(s) lost, e.g. \(try lost.stringArray("sample").joined(separator: ", "))")
        }
        guard !expectedTargets.isEmpty else { return problems }
        let wrong = try connection.query("""
            SELECT count(*) AS n, (array_agg(x.k || ': ' || coalesce(\(final), 'NULL') || ' expected ' || coalesce(x.e, x.en, 'NULL') ORDER BY x.k))[1:3] AS sample
            FROM bellows_rehearsal.expected x JOIN \(finalTable) t ON \(keyRow) = x.k
            WHERE NOT x.deleted AND \(mismatch)
            """).first
        if let wrong, try wrong.int("n") > 0 {
            problems.append("\(try wrong.int("n")) row(s) hold the wrong value, e.g. \(try wrong.stringArray("sample").joined(separator: "; "))")
        }
        return problems
    }
}

/// The row numbers (`g`) of the rehearsal's simulated writes: one sequence for every plan, so
/// that a later plan's writes never reuse the values of rows an earlier plan's traffic wrote.
final class RowNumbers: @unchecked Sendable {
    private let lock = NSLock()
    private var last = 50_000_000

    func next() -> Int {
        lock.lock(); defer { lock.unlock() }
        last += 1
        return last
    }
}
