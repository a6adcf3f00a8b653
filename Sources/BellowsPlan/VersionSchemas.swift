import BellowsSQL

/// Which application version a schema of views serves.
public enum SchemaVersion: String, Sendable, Hashable, CaseIterable, Codable {
    /// The table's columns as they were before the plan: the plan's new and shadow columns hidden.
    case old
    /// The columns as they are after contract: final names and types, the columns the plan
    /// drops or renames away hidden.
    case new
}

/// The versioned schemas of a plan (docs/versions.md): while the plan is expanded, backfilled
/// or verified, a schema of views for the old shape and one for the new shape of its table, so
/// that each version of the application sets its `search_path` and sees its own names and
/// types. Each view is `SELECT column AS name FROM table`, automatically updatable (writes go
/// to the table, the dual-write trigger keeps both shapes in step, the table's defaults apply),
/// with `security_invoker` so the table's privileges and row security apply to whoever uses
/// it. Pure: rendered here, run by the engine in expand's, contract's and rollback's
/// transactions.
public struct VersionSchemas: Sendable {
    public let transition: Transition

    public init(_ transition: Transition) { self.transition = transition }

    /// The schema of `version` for the plan `planID`: `_bellows_<plan id>_old`/`_new`, fitted to
    /// 63 bytes with a short hash of the full name (`TransitionNames.fitted`).
    public static func schema(planID: String, _ version: SchemaVersion) -> String {
        TransitionNames.fitted("\(TransitionNames.reservedPrefix)\(planID)_\(version.rawValue)")
    }

    public func schema(_ version: SchemaVersion) -> String { Self.schema(planID: transition.plan.id, version) }

    /// The view's name: the table's.
    public var viewName: String { transition.table.name }

    public func qualifiedView(_ version: SchemaVersion) -> String {
        SQLQuote.qualified(schema: schema(version), name: viewName)
    }

    /// The table's columns right after expand's `ADD COLUMN`s: the columns at expand, then the
    /// new ones, in attnum order.
    public var columnsAfterExpand: [String] {
        transition.table.columns.map(\.name) + transition.newTargets.map(\.physical)
    }

    /// The view's columns over `live` (the table's columns, in attnum order; by default as
    /// expand leaves them): the physical column and the name the view gives it. Old: every
    /// column but the plan's new ones. New: every column but those the plan drops, a shadow
    /// column under its final name; once the plan is `contracted`, every column as it is.
    /// Another plan's `_bellows_` columns are in neither (plans in flight together on one
    /// table: docs/versions.md).
    public func columns(_ version: SchemaVersion, live: [String]? = nil, contracted: Bool = false) -> [(column: String, name: String)] {
        let own = Set(transition.allTargets.map(\.physical))
        let visible = (live ?? columnsAfterExpand).filter { !$0.hasPrefix(TransitionNames.reservedPrefix) || own.contains($0) }
        if contracted { return visible.map { ($0, $0) } }
        switch version {
        case .old:
            let added = Set(transition.newTargets.map(\.physical))
            return visible.filter { !added.contains($0) }.map { ($0, $0) }
        case .new:
            let dropped = Set(transition.droppedColumns)
            var finals: [String: String] = [:]
            for t in transition.allTargets where t.isShadow { finals[t.physical] = t.final }
            return visible.filter { !dropped.contains($0) }.map { ($0, finals[$0] ?? $0) }
        }
    }

    /// `CREATE VIEW … WITH (security_invoker = true) AS SELECT … FROM table`.
    public func view(_ version: SchemaVersion, live: [String]? = nil, contracted: Bool = false) -> String {
        let list = columns(version, live: live, contracted: contracted).map { column, name in
            column == name ? SQLQuote.identifier(column) : "\(SQLQuote.identifier(column)) AS \(SQLQuote.identifier(name))"
        }
        return "CREATE VIEW \(qualifiedView(version)) WITH (security_invoker = true) AS\n  SELECT "
            + list.joined(separator: ", ") + "\n  FROM \(transition.quotedTable)"
    }

    /// Expand's statements: both schemas and their views.
    public var create: [PhaseStatement] { SchemaVersion.allCases.flatMap { create($0) } }

    /// The schema of `version` and its view. Privileges are granted to PUBLIC on purpose: with
    /// `security_invoker` every read and write through a view is checked against the table
    /// (column privileges included) and its row security as the role using it, so a grant on
    /// the view adds nothing a role does not already have on the table, and a grant or revoke
    /// on the table later holds through the views at once.
    public func create(_ version: SchemaVersion, live: [String]? = nil, contracted: Bool = false) -> [PhaseStatement] {
        let schema = SQLQuote.identifier(self.schema(version))
        let purpose = "the \(version.rawValue) version's schema of views (search_path \(searchPath(version)))"
        let grant = "every role may use the view as far as the table allows it (security_invoker: the table's privileges and policies apply)"
        return [
            PhaseStatement(.transaction, purpose, "CREATE SCHEMA \(schema)"),
            PhaseStatement(.transaction, purpose, view(version, live: live, contracted: contracted)),
        ] + defaults(version, live: live, contracted: contracted) + [
            PhaseStatement(.transaction, grant, "GRANT USAGE ON SCHEMA \(schema) TO PUBLIC"),
            PhaseStatement(.transaction, grant, "GRANT SELECT, INSERT, UPDATE, DELETE ON \(qualifiedView(version)) TO PUBLIC"),
        ]
    }

    /// The new version's view gives each new column the default contract gives it: a write
    /// through the view that leaves the column out gets that value, as it will after contract,
    /// and a NULL the new version writes stays NULL (the trigger knows the writer: hostile-g 04).
    /// The table's new columns have no default until contract, so old code's inserts, which
    /// leave them out, still read as old code's. Once the plan is contracted the table has them.
    public func defaults(_ version: SchemaVersion, live: [String]? = nil, contracted: Bool = false) -> [PhaseStatement] {
        guard version == .new, !contracted else { return [] }
        let visible = Set(columns(version, live: live).map(\.column))
        let sql = PhaseSQL(transition)
        return transition.groups.filter(sql.knowsWriter).flatMap(\.targets).compactMap { t in
            guard case .set(let value)? = t.defaultAtContract, visible.contains(t.physical) else { return nil }
            return PhaseStatement(.transaction, "the new version's writes that leave \(t.final) out get the default it has after contract",
                                  "ALTER VIEW \(qualifiedView(version)) ALTER COLUMN \(SQLQuote.identifier(t.final)) SET DEFAULT \(value)")
        }
    }

    /// Drops the schema of `version` and its view.
    public func drop(_ version: SchemaVersion) -> PhaseStatement {
        PhaseStatement(.transaction, "drop the \(version.rawValue) version's schema of views",
                       "DROP SCHEMA IF EXISTS \(SQLQuote.identifier(schema(version))) CASCADE")
    }

    /// Drops a schema of views by name: one a contracted plan left on the table (at the next
    /// plan's expand), or another plan's that reads a column this phase drops (made again after).
    public static func drop(schema: String, _ purpose: String) -> PhaseStatement {
        PhaseStatement(.transaction, purpose, "DROP SCHEMA IF EXISTS \(SQLQuote.identifier(schema)) CASCADE")
    }

    /// The schemas of `version`'s `search_path`: the version's schema, then the table's.
    public func searchPathSchemas(_ version: SchemaVersion) -> [String] {
        [schema(version), transition.table.schema]
    }

    /// What an application of `version` sets: `search_path` TO this.
    public func searchPath(_ version: SchemaVersion) -> String {
        Self.searchPath(searchPathSchemas(version))
    }

    /// A `search_path` value (`SET search_path TO …`, or the `options`/`search_path` setting of
    /// a connection): each schema quoted.
    public static func searchPath(_ schemas: [String]) -> String {
        schemas.map(SQLQuote.identifier).joined(separator: ", ")
    }
}
