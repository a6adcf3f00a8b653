import BellowsPlan
import BellowsSQL
import Foundation
import PGClient

/// `bellows rehearse --from DATABASE`: production's shape in the scratch database. One session
/// on the source, `default_transaction_read_only` and a REPEATABLE READ READ ONLY transaction
/// held open throughout, so the schema (pg_dump, on the transaction's exported snapshot), the
/// ledger, the plans' state and the sampled rows all come from one consistent moment and
/// nothing is ever written there.
final class SourceCopy {
    let conninfo: String?
    let connection: Connection
    let serverMajor: Int
    /// `database "app" (PostgreSQL 15.18)`.
    let name: String

    init(conninfo: String?) throws {
        self.conninfo = conninfo
        do {
            connection = try BellowsError.connect(conninfo)
            try ServerVersion.requireSupported(connection)
            try connection.execute("SET default_transaction_read_only = on")
            try connection.execute("SET application_name = 'bellows rehearse --from'")
            try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            serverMajor = try connection.query("SELECT current_setting('server_version_num')::int / 10000 AS m").first?.int("m") ?? 0
            name = try connection.query("SELECT format('database \"%s\" (PostgreSQL %s)', current_database(), current_setting('server_version')) AS d")
                .first?.string("d") ?? "source"
        } catch let error as PostgresError {
            throw BellowsError.database(error)
        }
    }

    func close() {
        _ = try? connection.execute("ROLLBACK")
        connection.close()
    }

    /// The source's plans and their phase (none without a `bellows` schema).
    func planPhases() throws -> [String: (phase: Phase, expanding: Bool)] {
        guard try connection.query("SELECT to_regclass('bellows.plans') IS NOT NULL AS e").first?.bool("e") == true else { return [:] }
        var phases: [String: (phase: Phase, expanding: Bool)] = [:]
        for row in try connection.query("SELECT id, phase, expanding FROM bellows.plans") {
            phases[try row.string("id")] = (Phase(rawValue: try row.string("phase")) ?? .planned, try row.bool("expanding"))
        }
        return phases
    }

    /// The source's publications: pg_dump leaves them out of the copy (a publication in the
    /// scratch database would be no use without subscribers), so what expand refuses because
    /// of them is not rehearsed (hostile-f 04) — `check -d` against the source says it.
    func publications() throws -> [String] {
        try connection.query("SELECT pubname::text AS name FROM pg_publication ORDER BY 1").map { try $0.string("name") }
    }

    /// The source's schema (not the `bellows` schema) into `target`, in one transaction, then
    /// its migration ledger, so that only migrations the source has not applied run after it.
    /// The dump leaves owners and grants out, but a policy's `TO` list is part of the policy:
    /// with `createsRoles` (a private scratch cluster), the roles the copied schema names that
    /// the target's cluster lacks are created NOLOGIN first — the policies' roles read from the
    /// source, and any other role a statement of the dump turns out to need — and returned
    /// (hostile-h 17, as hostile-f 10 does for migrations). A statement of the dump that fails
    /// is named in the error's context (its line in pg_dump's output and its text).
    func copySchema(into target: Connection, pgBinDirectory: String?, createsRoles: Bool) throws -> (recorded: Int, createdRoles: [String]) {
        let snapshot = try connection.query("SELECT pg_export_snapshot() AS s").first?.string("s")
        let pgDump = try PgDump.find(explicit: pgBinDirectory, serverMajor: serverMajor)
        let dump = try PgDump.schema(conninfo: conninfo, pgDump: pgDump, snapshot: snapshot)
        let statements = StatementSplitter.split(PgDump.migrationText(dump, header: [])).filter { !$0.significantTokens.isEmpty }
        var created: [String] = []
        if createsRoles {
            let named = try connection.query("""
                SELECT DISTINCT r.rolname::text AS name FROM pg_policy p CROSS JOIN LATERAL unnest(p.polroles) AS x(oid)
                JOIN pg_roles r ON r.oid = x.oid ORDER BY 1
                """).map { try $0.string("name") }
            let present = Set(try target.query("SELECT rolname::text AS name FROM pg_roles").map { try $0.string("name") })
            for role in named where !present.contains(role) {
                try target.execute("CREATE ROLE \(SQLQuote.identifier(role)) NOLOGIN")
                created.append(role)
            }
        }
        var attempts = 0
        while true {
            do {
                try target.withTransaction {
                    for statement in statements {
                        do { _ = try target.executeScript(statement.text) } catch let caught as PostgresError {
                            var error = caught
                            let text = statement.text.trimmingCharacters(in: .whitespacesAndNewlines)
                            let named = "statement at line \(statement.line) of the schema pg_dump read from the \(name) (less its SET lines): "
                                + (text.count > 300 ? String(text.prefix(300)) + "…" : text)
                            error.context = error.context.map { $0 + "\n" + named } ?? named
                            if let role = Self.missingRole(error), !createsRoles {
                                error.hint = "the scratch database's cluster has no role \(SQLQuote.identifier(role)), which the copied schema names: "
                                    + "create it there (CREATE ROLE \(SQLQuote.identifier(role)) NOLOGIN), or rehearse without -d: the private cluster creates the roles the schema names"
                            }
                            throw error
                        }
                    }
                }
                break
            } catch let error as PostgresError {
                // A role the dump names elsewhere than in a policy: created, and the copy made again.
                attempts += 1
                guard createsRoles, attempts <= 100, let role = Self.missingRole(error), !created.contains(role) else { throw error }
                try target.execute("CREATE ROLE \(SQLQuote.identifier(role)) NOLOGIN")
                created.append(role)
            }
        }
        guard try connection.query("SELECT to_regclass('bellows.migrations') IS NOT NULL AS e").first?.bool("e") == true else { return (0, created) }
        let rows = try connection.query("""
            SELECT coalesce(json_agg(json_build_object('name', name, 'checksum', checksum, 'applied_by', applied_by,
                   'applied_at', applied_at, 'duration_ms', duration_ms, 'transactional', transactional)), '[]')::text AS rows,
                   count(*) AS n FROM bellows.migrations
            """)
        try target.execute("""
            INSERT INTO bellows.migrations (name, checksum, applied_by, applied_at, duration_ms, transactional)
            SELECT name, checksum, applied_by, applied_at, duration_ms, transactional
            FROM json_to_recordset($1::json) AS r(name text, checksum text, applied_by text, applied_at timestamptz, duration_ms bigint, transactional boolean)
            """, [try rows.first?.string("rows") ?? "[]"])
        return (try rows.first?.int("n") ?? 0, created)
    }

    /// The role of a `role "x" does not exist` error (SQLSTATE 42704), nil for any other. Pure.
    static func missingRole(_ error: PostgresError) -> String? {
        guard error.sqlState == .undefinedObject, error.message.hasPrefix("role \""), error.message.hasSuffix("\" does not exist") else { return nil }
        let role = String(error.message.dropFirst("role \"".count).dropLast("\" does not exist".count))
        return role.isEmpty ? nil : role
    }

    /// A table of the source, for sampling.
    struct SampledTable {
        var oid: Int
        var quoted: String
        /// The columns an INSERT may name (not generated), quoted.
        var columns: [String]
    }

    /// Up to `perTable` rows of every table, plus every row a sampled row references through a
    /// foreign key (transitively), copied into `target` with `session_replication_role =
    /// replica` (no triggers, so no foreign-key checks on the way in: the closure already
    /// satisfies them); then the sequences' values. Returns the rows copied per table.
    func copySample(perTable: Int, into target: Connection) throws -> [String: Int] {
        var tables: [Int: SampledTable] = [:]
        for row in try connection.query("""
            SELECT c.oid::bigint AS oid, format('%I.%I', n.nspname, c.relname) AS quoted,
                   ARRAY(SELECT quote_ident(a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                         AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum) AS columns
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'bellows', 'bellows_rehearsal')
              AND n.nspname !~ '^pg_(toast|temp_)'
            """) {
            let oid = try row.int("oid")
            tables[oid] = SampledTable(oid: oid, quoted: try row.string("quoted"), columns: try row.stringArray("columns"))
        }
        // Foreign keys between them: child columns → parent columns.
        struct Reference { var child: Int; var parent: Int; var childColumns: [String]; var parentColumns: [String] }
        var references: [Reference] = []
        for row in try connection.query("""
            SELECT k.conrelid::bigint AS child, k.confrelid::bigint AS parent,
                   ARRAY(SELECT quote_ident(a.attname) FROM unnest(k.conkey) WITH ORDINALITY AS u(n, o)
                         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.o) AS child_columns,
                   ARRAY(SELECT quote_ident(a.attname) FROM unnest(k.confkey) WITH ORDINALITY AS u(n, o)
                         JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.o) AS parent_columns
            FROM pg_constraint k WHERE k.contype = 'f'
            """) {
            let reference = Reference(child: try row.int("child"), parent: try row.int("parent"),
                                      childColumns: try row.stringArray("child_columns"), parentColumns: try row.stringArray("parent_columns"))
            if tables[reference.child] != nil && tables[reference.parent] != nil { references.append(reference) }
        }
        // The sample, as row addresses within this transaction's snapshot.
        var selected: [Int: Set<String>] = [:]
        for (oid, table) in tables {
            selected[oid] = Set(try connection.query("SELECT ctid::text AS t FROM \(table.quoted) LIMIT $1", [perTable]).map { try $0.string("t") })
        }
        // Rows the sample references, until nothing is added.
        var changed = true
        while changed {
            changed = false
            for reference in references {
                guard let children = selected[reference.child], !children.isEmpty, let child = tables[reference.child],
                      let parent = tables[reference.parent] else { continue }
                let parents = try connection.query("""
                    SELECT p.ctid::text AS t FROM \(parent.quoted) p
                    WHERE (\(reference.parentColumns.map { "p.\($0)" }.joined(separator: ", "))) IN (
                        SELECT \(reference.childColumns.map { "c.\($0)" }.joined(separator: ", ")) FROM \(child.quoted) c WHERE c.ctid = ANY ($1::tid[]))
                    """, [PostgresArray.literal(children.sorted())]).map { try $0.string("t") }
                let before = selected[reference.parent]?.count ?? 0
                selected[reference.parent, default: []].formUnion(parents)
                if selected[reference.parent]?.count != before { changed = true }
            }
        }
        var copied: [String: Int] = [:]
        try target.withTransaction {
            try target.execute("SET LOCAL session_replication_role = replica")
            for (oid, table) in tables.sorted(by: { $0.value.quoted < $1.value.quoted }) {
                guard let rows = selected[oid], !rows.isEmpty else { copied[table.quoted] = 0; continue }
                let json = try connection.query("""
                    SELECT coalesce(json_agg(x), '[]')::text AS rows FROM (SELECT * FROM \(table.quoted) WHERE ctid = ANY ($1::tid[])) x
                    """, [PostgresArray.literal(rows.sorted())]).first?.string("rows") ?? "[]"
                let columns = table.columns.joined(separator: ", ")
                try target.execute("""
                    INSERT INTO \(table.quoted) (\(columns)) OVERRIDING SYSTEM VALUE
                    SELECT \(columns) FROM json_populate_recordset(NULL::\(table.quoted), $1::json)
                    """, [json])
                copied[table.quoted] = rows.count
            }
            // Sequences where the source's are, so new rows get fresh keys.
            for row in try connection.query("""
                SELECT format('%I.%I', schemaname, sequencename) AS name, last_value::text AS value FROM pg_sequences
                WHERE last_value IS NOT NULL AND schemaname NOT IN ('bellows', 'bellows_rehearsal')
                """) {
                try target.execute("SELECT setval($1::regclass, $2::bigint)", [try row.string("name"), try row.string("value")])
            }
        }
        return copied
    }
}
