import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// `rename_table_to:` (`TableRename`): the catalog reads and gates around the pure decisions.
/// Not to be confused with `table-moved` (MovedTable.swift): that is a table renamed by
/// someone else while a column plan is in flight; this is the plan's own rename, which keeps
/// the table's name until contract and renames it there.
extension Engine {
    /// Expand's refusals for a plan that renames its table: the new name is taken in the
    /// table's schema (by a table, view, index, sequence or type), or another plan is in flight
    /// on the table (a rename moves the table from under it; it waits for the rename likewise).
    func tableRenameFailures(_ plan: Plan, table: TableInfo?, connection: Connection) throws -> [GateFailure] {
        guard let table else { return [] }
        var failures: [GateFailure] = []
        if let rename = plan.renameTableTo {
            let row = try connection.query("""
                SELECT (SELECT string_agg(CASE c.relkind WHEN 'r' THEN 'a table' WHEN 'p' THEN 'a partitioned table' WHEN 'v' THEN 'a view'
                                          WHEN 'm' THEN 'a materialized view' WHEN 'i' THEN 'an index' WHEN 'I' THEN 'an index'
                                          WHEN 'S' THEN 'a sequence' WHEN 'f' THEN 'a foreign table' WHEN 'c' THEN 'a composite type' ELSE 'a relation' END, ', ')
                        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2) AS relation,
                       EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                               WHERE n.nspname = $1 AND t.typname = $2) AS type
                """, [table.schema, rename.value]).first
            if let relation = try row?.optionalString("relation") {
                failures.append(GateFailure(gate: "table-rename",
                    message: "\(rename.location): \(table.schema).\(rename.value) is taken (\(relation)): the table cannot take that name",
                    remedy: "choose another name in 'rename_table_to', or drop or rename what holds it"))
            } else if try row?.bool("type") == true {
                failures.append(GateFailure(gate: "table-rename",
                    message: "\(rename.location): a type \(table.schema).\(rename.value) exists: the view under the new name (and the renamed table) would need that name for its row type",
                    remedy: "choose another name in 'rename_table_to', or drop or rename the type"))
            }
        }
        let rows = try connection.query("""
            SELECT id, phase, expanding, table_name, table_info, plan_text, plan_path FROM bellows.plans
            WHERE id <> $1 AND (phase IN ('expanded', 'backfilled', 'verified') OR expanding)
            ORDER BY id
            """, [plan.id])
        let name = TableName(schema: table.schema, name: table.name)
        for row in rows {
            let stored = try row.optionalString("table_info").flatMap { $0.data(using: .utf8) }
                .flatMap { try? JSONDecoder().decode(TableInfo.self, from: $0) }
            let storedName = try row.string("table_name")
            let sameTable = stored.map { $0.schema == table.schema && $0.name == table.name } ?? Self.sameTable(storedName, name)
            guard sameTable else { continue }
            let path = try row.optionalString("plan_path") ?? "plan.yaml"
            let otherRenames = try row.optionalString("plan_text").map {
                PlanLoader.load(file: path, source: $0).plan?.renameTableTo != nil
            } ?? false
            guard plan.renameTableTo != nil || otherRenames else { continue }
            let id = try row.string("id")
            let phase = try row.bool("expanding") ? "expanding" : try row.string("phase")
            failures.append(GateFailure(gate: "conflict",
                message: otherRenames ? "plan \(id) is \(phase) and renames \(table.schema).\(table.name): no other plan may change the table meanwhile"
                                      : "plan \(id) is \(phase) on \(table.schema).\(table.name): a table rename waits until no other plan is in flight on the table",
                remedy: "contract or roll back \(id) first"))
        }
        return failures
    }

    /// The table's indexes, constraints and owned sequences (in its schema), and the relation
    /// names taken in its schema: what `TableRename.renames` decides from, read under
    /// contract's lock.
    static func tableRenameObjects(_ connection: Connection, table: String) throws -> (objects: [TableRename.Object], taken: Set<String>) {
        let rows = try connection.query("""
            SELECT 'constraint' AS kind, con.conname AS name,
                   CASE WHEN con.contype IN ('p', 'u', 'x') AND con.conindid <> 0 THEN ic.relname END AS owned
            FROM pg_constraint con LEFT JOIN pg_class ic ON ic.oid = con.conindid
            WHERE con.conrelid = to_regclass($1)
              -- Not one the table inherits (only its parent's rename may rename it), nor a CHECK or
              -- NOT NULL its inheritance children hold under another name (PostgreSQL 18 names a
              -- child's own NOT NULL after the child): RENAME CONSTRAINT renames it in every
              -- child too, and fails where a child has no constraint of that name.
              AND con.coninhcount = 0
              AND NOT (con.contype IN ('c', 'n') AND NOT con.connoinherit AND EXISTS (
                  SELECT 1 FROM pg_inherits i WHERE i.inhparent = con.conrelid
                    AND NOT EXISTS (SELECT 1 FROM pg_constraint cc WHERE cc.conrelid = i.inhrelid AND cc.conname = con.conname)))
            UNION ALL
            SELECT 'index', ic.relname, NULL FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
            WHERE i.indrelid = to_regclass($1)
            UNION ALL
            SELECT 'sequence', s.relname, NULL FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
            WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = to_regclass($1)
              AND d.deptype IN ('a', 'i')
              AND s.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass($1))
            """, [table])
        var objects: [TableRename.Object] = []
        for row in rows {
            guard let kind = TableRename.Object.Kind(rawValue: try row.string("kind")) else { continue }
            objects.append(TableRename.Object(kind, try row.string("name"), ownedIndex: try row.optionalString("owned")))
        }
        let taken = try connection.query("""
            SELECT relname FROM pg_class WHERE relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = to_regclass($1))
            """, [table]).map { try $0.string("relname") }
        return (objects, Set(taken))
    }
}
