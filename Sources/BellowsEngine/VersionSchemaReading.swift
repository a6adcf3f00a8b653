import BellowsPlan
import Foundation
import PGClient

/// The `search_path` an application of one version of a plan sets (`bellows search-path`).
public struct VersionSearchPath: Sendable, Hashable, Codable {
    public var plan: String
    public var version: SchemaVersion
    public var phase: Phase
    /// The version's schema of views (`_bellows_<plan>_old`/`_new`).
    public var schema: String
    /// The schema and the table's schema, quoted: what `SET search_path TO` takes. Nil when the
    /// schema is not there (the plan is not expanded, was rolled back, or contracted and the
    /// schema removed since, or it is the old version of a contracted plan).
    public var searchPath: String?

    enum CodingKeys: String, CodingKey {
        case plan, version, phase, schema
        case searchPath = "search_path"
    }

    public init(plan: String, version: SchemaVersion, phase: Phase, schema: String, searchPath: String?) {
        self.plan = plan
        self.version = version
        self.phase = phase
        self.schema = schema
        self.searchPath = searchPath
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(plan, forKey: .plan)
        try container.encode(version, forKey: .version)
        try container.encode(phase, forKey: .phase)
        try container.encode(schema, forKey: .schema)
        try container.encode(searchPath, forKey: .searchPath)
    }
}

extension Engine {
    /// The `search_path` of `version` of the plan `reference`, read from the database: the
    /// version's schema when it exists, followed by the schema of the table its view reads.
    /// Reads only.
    public func searchPath(plan reference: String, version: SchemaVersion) throws -> VersionSearchPath {
        let (connection, hasState) = try connectForReading()
        defer { connection.close() }
        do {
            let id = try controlledPlanID(reference, connection: connection, stateKnown: hasState)
            let phase = hasState ? try StateStore.plan(connection, id: id)?.phase ?? .planned : .planned
            let paths = try Self.versionSearchPaths(of: [id], connection: connection)
            return VersionSearchPath(plan: id, version: version, phase: phase,
                                     schema: VersionSchemas.schema(planID: id, version), searchPath: paths[id]?[version])
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    /// For each plan of `ids` whose versioned schemas exist, the `search_path` of each existing
    /// version: its schema, then the schema of the table the schema's view reads.
    static func versionSearchPaths(of ids: [String], connection: Connection) throws -> [String: [SchemaVersion: String]] {
        var owners: [String: (id: String, version: SchemaVersion)] = [:]
        for id in ids {
            for version in SchemaVersion.allCases { owners[VersionSchemas.schema(planID: id, version)] = (id, version) }
        }
        guard !owners.isEmpty else { return [:] }
        var result: [String: [SchemaVersion: String]] = [:]
        for row in try connection.query("""
            SELECT vn.nspname AS schema, min(tn.nspname) AS table_schema
            FROM pg_namespace vn
            JOIN pg_class v ON v.relnamespace = vn.oid AND v.relkind = 'v'
            JOIN pg_rewrite w ON w.ev_class = v.oid
            JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = w.oid
                            AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> v.oid
            JOIN pg_class t ON t.oid = d.refobjid AND t.relkind IN ('r', 'p')
            JOIN pg_namespace tn ON tn.oid = t.relnamespace
            WHERE vn.nspname = ANY($1::text[])
            GROUP BY vn.nspname
            """, [PostgresArray.literal(owners.keys.sorted())]) {
            let schema = try row.string("schema")
            guard let owner = owners[schema] else { continue }
            result[owner.id, default: [:]][owner.version] = VersionSchemas.searchPath([schema, try row.string("table_schema")])
        }
        return result
    }

    /// The versioned schemas over `table` that plans no longer in flight left behind: the new
    /// version's schema of a contracted plan (docs/versions.md). The next plan's expand on the
    /// table drops them in its transaction.
    static func leftoverVersionSchemas(on table: String, connection: Connection) throws -> [String] {
        var inFlight: Set<String> = []
        if try StateStore.exists(connection) {
            for row in try connection.query("""
                SELECT id FROM bellows.plans WHERE expanding OR phase IN ('expanded', 'backfilled', 'verified')
                """) {
                let id = try row.string("id")
                for version in SchemaVersion.allCases { inFlight.insert(VersionSchemas.schema(planID: id, version)) }
            }
        }
        return try connection.query("""
            SELECT DISTINCT vn.nspname AS schema
            FROM pg_depend d
            JOIN pg_rewrite w ON w.oid = d.objid
            JOIN pg_class v ON v.oid = w.ev_class AND v.relkind = 'v'
            JOIN pg_namespace vn ON vn.oid = v.relnamespace
            WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
              AND d.refobjid = to_regclass($1) AND vn.nspname LIKE '\\_bellows\\_%'
            ORDER BY 1
            """, [table]).map { try $0.string("schema") }.filter { !inFlight.contains($0) }
    }

    /// Other plans' versioned schemas whose views read one of `columns` of `table`: a phase that
    /// drops those columns drops these schemas first (a view holds its columns) and makes them
    /// again after its changes (`recreateVersionSchemas`). The plan's own are left out.
    static func versionSchemasReading(_ columns: [String], of table: String, except planID: String,
                                      connection: Connection) throws -> [String] {
        guard !columns.isEmpty else { return [] }
        let own = Set(SchemaVersion.allCases.map { VersionSchemas.schema(planID: planID, $0) })
        return try connection.query("""
            SELECT DISTINCT vn.nspname AS schema
            FROM pg_depend d
            JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            JOIN pg_rewrite w ON w.oid = d.objid
            JOIN pg_class v ON v.oid = w.ev_class AND v.relkind = 'v'
            JOIN pg_namespace vn ON vn.oid = v.relnamespace
            WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
              AND d.refobjid = to_regclass($1) AND a.attname = ANY($2::text[]) AND vn.nspname LIKE '\\_bellows\\_%'
            ORDER BY 1
            """, [table, PostgresArray.literal(columns)]).map { try $0.string("schema") }.filter { !own.contains($0) }
    }

    /// Makes again, over the table's columns as they are now, each schema of `schemas` (found by
    /// `versionSchemasReading`, dropped by the phase): the schema of a plan in flight with its
    /// plan's shapes, a contracted plan's new version with the table's columns as they are. A
    /// schema of no plan the state table knows, or of one without its stored text, stays
    /// dropped. Returns the schemas made again.
    func recreateVersionSchemas(_ schemas: [String], table: String, for plan: Plan, _ command: PhaseCommand,
                                connection: Connection) throws -> [String] {
        guard !schemas.isEmpty else { return [] }
        let live = try connection.query("""
            SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum
            """, [table]).map { try $0.string("attname") }
        var owners: [String: (state: PlanState, version: SchemaVersion)] = [:]
        for state in try StateStore.allPlans(connection) {
            for version in SchemaVersion.allCases { owners[VersionSchemas.schema(planID: state.id, version)] = (state, version) }
        }
        var made: [String] = []
        for schema in schemas {
            guard let owner = owners[schema], let other = Self.storedPlan(owner.state),
                  let stored = try StateStore.storedTable(connection, id: owner.state.id),
                  let transition = TransitionCompiler.compile(other, table: stored).transition else { continue }
            for statement in VersionSchemas(transition).create(owner.version, live: live, contracted: owner.state.phase == .contracted) {
                announce(plan, command, statement)
                try connection.execute(statement.sql)
            }
            made.append(schema)
        }
        return made
    }
}
