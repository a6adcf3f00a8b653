import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// The schema of a live database, for `check --database` and `render --database`: every table
/// as the engine reads it (``CatalogReader``), and the plans the database's state knows. A plan
/// between expand and contract is checked against its table as expand saw it (stored with its
/// state); other plans against the tables as they will be once those plans are contracted; a
/// contracted plan no longer against any table. Read in a read-only transaction.
public struct LiveSchema: Sendable {
    /// What the plans' state on this database says about one plan.
    public struct PlanOnDatabase: Sendable {
        public var phase: Phase
        public var expanding: Bool
        /// The table as expand read it, for a plan between expand and contract.
        public var tableAtExpand: TableInfo?
        public var inFlight: Bool { expanding || [.expanded, .backfilled, .verified].contains(phase) }
    }

    /// The tables as they are now.
    public var catalog: SchemaCatalog
    public var plans: [String: PlanOnDatabase]
    /// `database "app" (PostgreSQL 15.18)`.
    public var name: String
    /// `server_version_num`: render renders for it.
    public var serverVersion: Int
    /// What expand's table gates (row security, inheritance, publications) look at, per table
    /// (`TableName.quoted`), read for the tables `read(conninfo:planTables:)` is given, so
    /// `check -d` and `render -d` say it before a deploy's expand does (hostile-f 08):
    /// `tableRefusals(for:)`.
    var tableSafety: [String: TableSafety] = [:]
    var publicationRefusals: [String: [GateFailure]] = [:]
    /// The publications that publish each such table's updates or deletes (the `replica-identity`
    /// gate's question, hostile-d 18).
    public var changePublications: [String: [String]] = [:]
    /// The publications that send each such table whole (no column list, a schema, all tables).
    public var wholePublications: [String: [String]] = [:]
    /// The rows and column widths of the tables `read(conninfo:planTables:statisticsOf:)` is
    /// given (`TableName.quoted`): `render -d` sizes contract's archive with them.
    public var tableStatistics: [String: TableStatistics] = [:]
    /// The publications that send each such table, with the columns each sends (a move plan's
    /// `publication` gate, hostile-h 08).
    public var publishedColumns: [String: [String: [String]]] = [:]
    /// The publications that send each such table under its name (`rename_table_to`'s question,
    /// hostile-h 07): with a column list or not.
    public var namePublications: [String: [String]] = [:]

    public init(catalog: SchemaCatalog, plans: [String: PlanOnDatabase], name: String, serverVersion: Int) {
        self.catalog = catalog
        self.plans = plans
        self.name = name
        self.serverVersion = serverVersion
    }

    public static func read(conninfo: String?, planTables: [TableName] = [], statisticsOf: [TableName] = []) throws -> LiveSchema {
        do {
            let connection = try BellowsError.connect(conninfo)
            defer { connection.close() }
            try ServerVersion.requireSupported(connection)
            return try connection.withTransaction {
                try connection.execute("SET TRANSACTION READ ONLY")
                var live = try read(connection)
                for table in Set(planTables.map(\.quoted)) {
                    if let safety = try TableSafety.read(connection, table: table) { live.tableSafety[table] = safety }
                    let publication = try Engine.publicationFailures(table: table, connection: connection)
                    if !publication.isEmpty { live.publicationRefusals[table] = publication }
                    let publications = try Engine.publications(of: table, wholeOnly: false, connection: connection)
                    if !publications.isEmpty { live.changePublications[table] = publications }
                    let whole = try Engine.publications(of: table, wholeOnly: true, connection: connection)
                    if !whole.isEmpty { live.wholePublications[table] = whole }
                    let published = try Engine.publishedColumns(of: table, connection: connection)
                    if !published.isEmpty { live.publishedColumns[table] = published }
                    let named = try Engine.publicationsSendingItsName(table, connection: connection)
                    if !named.isEmpty { live.namePublications[table] = named }
                }
                for table in Set(statisticsOf.map(\.quoted)) {
                    if let statistics = try ArchiveSizing.statistics(connection, table: table) { live.tableStatistics[table] = statistics }
                }
                return live
            }
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// `tables`: only these tables (the phases' `plan` gate reads the tables of the project's
    /// plans); nil: every table. An unqualified name resolves by the session's `search_path`
    /// (`to_regclass`), as the phases resolve it.
    static func read(_ connection: Connection, tables names: [TableName]? = nil) throws -> LiveSchema {
        let about = try connection.query("""
            SELECT format('database "%s" (PostgreSQL %s)', current_database(), current_setting('server_version')) AS d,
                   current_setting('server_version_num')::int AS v
            """).first
        let name = try about?.string("d") ?? "database"
        let serverVersion = try about?.int("v") ?? ServerVersion.renderDefault
        var tables: [TableInfo] = []
        var searchPath: [String: String] = [:]
        if let names {
            var seen: Set<String> = []
            for name in names {
                if name.schema == nil, searchPath[name.name] == nil, let schema = try connection.query("""
                    SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)
                    """, [name.quoted]).first?.string("schema") {
                    searchPath[name.name] = schema
                }
                let qualified = TableName(schema: name.schema ?? searchPath[name.name] ?? "public", name: name.name)
                guard seen.insert(qualified.description).inserted else { continue }
                if let table = try CatalogReader.table(connection, qualified) { tables.append(table) }
            }
        } else {
            for row in try connection.query("""
                SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'bellows', 'bellows_rehearsal')
                  AND n.nspname !~ '^pg_(toast|temp_)'
                ORDER BY 1, 2
                """) {
                if let table = try CatalogReader.table(connection, TableName(schema: try row.string("schema"), name: try row.string("name"))) {
                    tables.append(table)
                }
            }
            // What each table name, unqualified, means under the session's search_path.
            for row in try connection.query("""
                SELECT DISTINCT c.relname AS name, n.nspname AS schema
                FROM pg_class c JOIN pg_class r ON r.oid = to_regclass(quote_ident(c.relname)) JOIN pg_namespace n ON n.oid = r.relnamespace
                WHERE c.relkind IN ('r', 'p')
                """) {
                searchPath[try row.string("name")] = try row.string("schema")
            }
        }
        // The sync trigger of a plan in flight is no dependent to drop: whether another plan may
        // change the columns it reads is the `conflict` gate's to say (ConflictTests).
        for index in tables.indices {
            tables[index].details?.dependents.removeAll { $0.kind == .trigger && ($0.description.hasPrefix("trigger _bellows_") || $0.description.hasPrefix("trigger \(TransitionNames.triggerPrefix)")) }
            // Nor the view recording what its up/down use (hostile-d 08).
            tables[index].details?.dependents.removeAll { $0.kind == .view && $0.description.contains("\(TransitionNames.reservedPrefix)plan_") }
        }
        var plans: [String: PlanOnDatabase] = [:]
        if try connection.query("SELECT to_regclass('bellows.plans') IS NOT NULL AS e").first?.bool("e") == true {
            for row in try connection.query("SELECT id, phase, expanding, table_info FROM bellows.plans") {
                let table = try row.optionalString("table_info").flatMap { $0.data(using: .utf8) }
                    .flatMap { try? JSONDecoder().decode(TableInfo.self, from: $0) }
                plans[try row.string("id")] = PlanOnDatabase(phase: Phase(rawValue: try row.string("phase")) ?? .planned,
                                                             expanding: try row.bool("expanding"), tableAtExpand: table)
            }
        }
        return LiveSchema(catalog: SchemaCatalog(tables: tables, searchPath: searchPath), plans: plans, name: name, serverVersion: serverVersion)
    }

    /// The catalog `plan` is checked against among `plans` (the project's), and a note when
    /// it is not the database's as it is. Nil: the plan is contracted there. Pure.
    public func catalog(for plan: Plan, among plans: [Plan]) -> (catalog: SchemaCatalog?, note: String?) {
        let state = self.plans[plan.id]
        if state?.phase == .contracted {
            return (nil, "plan \(plan.id) is contracted on the \(name): not checked against its tables")
        }
        if let state, state.inFlight, let table = state.tableAtExpand {
            return (catalog.replacing(table), "plan \(plan.id) is \(state.phase.rawValue) on the \(name): checked against \(plan.table.value) as expand read it")
        }
        // Other plans in flight: their tables as they will be after contract; earlier plans
        // not expanded yet: their tables as they will be once they run (`PlanChain`).
        var catalog = self.catalog
        var applied: [String] = []
        let ordered = PlanChain.ordered(plans)
        let position = ordered.firstIndex { $0.id == plan.id } ?? ordered.count
        for (index, other) in ordered.enumerated() where other.id != plan.id {
            let state = self.plans[other.id]
            let table: TableInfo?
            if let state, state.inFlight { table = state.tableAtExpand }
            else if index < position, catalog.schema(of: other.table.value) == catalog.schema(of: plan.table.value), other.table.value.name == plan.table.value.name,
                    state == nil || state?.phase == .planned || state?.phase == .rolledBack { table = catalog.table(other.table.value) }
            else { table = nil }
            guard let table, let transition = TransitionCompiler.compile(other, table: table).transition else { continue }
            // What the catalog knows of the rest of the table is kept: views, publications,
            // indexes made since expand… (hostile-f 04).
            catalog = catalog.replacing(transition.tableAfterContract(keepingFrom: catalog.table(other.table.value)))
            applied.append(other.id)
        }
        return (catalog, applied.isEmpty ? nil : "plan \(plan.id): checked against the tables as they will be once \(applied.joined(separator: ", ")) \(applied.count == 1 ? "is" : "are") contracted")
    }
}

extension LiveSchema {
    /// What expand's table gates would refuse for `plan`: the same `TableSafety.failures` expand
    /// asks (a plan that renames its table alone has its own), then the publications'.
    func tableRefusals(for plan: Plan) -> [GateFailure] {
        let table = plan.table.value.quoted
        return (tableSafety[table]?.failures(renamingTableOnly: plan.renamesTableOnly, serverVersion: serverVersion) ?? [])
            + (publicationRefusals[table] ?? [])
    }
}
