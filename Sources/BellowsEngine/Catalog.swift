import BellowsPlan
import BellowsSQL
import PGClient

/// Reads table shapes from `pg_catalog`. NOT NULL is a column property on every version:
/// PostgreSQL 18 also records it as a named constraint (`contype = 'n'`), which is read as the
/// column's `notNull` (false while the constraint is NOT VALID) and not listed among the
/// constraints, so a table reads the same on 15, 16 and 18 and as the offline catalog models it.
public enum CatalogReader {
    /// SQL for the innermost base type of the type `typeOID` (an SQL expression), when it is a
    /// domain: `format_type` of it; NULL for any other type.
    static func domainBase(_ typeOID: String) -> String {
        """
        CASE WHEN (SELECT typtype FROM pg_type WHERE oid = \(typeOID)) = 'd' THEN (
          WITH RECURSIVE chain AS (
            SELECT t.typtype, t.typbasetype, 0 AS depth FROM pg_type t WHERE t.oid = \(typeOID)
            UNION ALL
            SELECT t.typtype, t.typbasetype, c.depth + 1 FROM chain c JOIN pg_type t ON t.oid = c.typbasetype WHERE c.typtype = 'd' AND c.depth < 32)
          SELECT format_type(typbasetype, NULL) FROM chain WHERE typtype = 'd' ORDER BY depth DESC LIMIT 1) END
        """
    }

    public static func table(_ connection: Connection, _ name: TableName) throws -> TableInfo? {
        let oidRows = try connection.query("""
            SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')
            """, [name.quoted])
        guard let row = oidRows.first else { return nil }
        let oid = try row.int("oid")
        let columns = try connection.query("""
            SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
                   a.attnotnull AND NOT EXISTS (SELECT 1 FROM pg_constraint n WHERE n.conrelid = a.attrelid AND n.contype = 'n'
                                                AND n.conkey[1] = a.attnum AND NOT n.convalidated) AS not_null,
                   CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS default_expression,
                   a.attgenerated::text AS generated, \(Self.domainBase("a.atttypid")) AS base_type
            FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attrelid = $1::bigint::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, [oid]).map { r in
                // A generated column's expression is kept in pg_attrdef too: it is no default.
                let generated: ColumnInfo.Generation? = switch try r.string("generated") {
                case "s": .stored
                case "v": .virtual
                default: nil
                }
                return ColumnInfo(name: try r.string("name"), type: try r.string("type"), notNull: try r.bool("not_null"),
                                  defaultExpression: try r.optionalString("default_expression"), generated: generated,
                                  baseType: try r.optionalString("base_type"))
            }
        let indexes = try connection.query("""
            SELECT ic.relname AS name, i.indisunique AS is_unique, i.indisprimary AS is_primary,
                   EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid
                                                            AND k.contype IN ('p', 'u', 'x')) AS is_constraint,
                   (am.amname = 'btree' AND i.indpred IS NULL AND i.indexprs IS NULL
                    AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[], i.indcollation::oid[]) AS k(attnum, coll)
                                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                                    WHERE k.coll <> a.attcollation)) AS is_plain,
                   ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
            WHERE i.indrelid = $1::bigint::oid ORDER BY ic.relname
            """, [oid]).map { r in
                IndexInfo(name: try r.string("name"), columns: try r.stringArray("columns"), isUnique: try r.bool("is_unique"),
                          isPrimary: try r.bool("is_primary"), isConstraint: try r.bool("is_constraint"), isPlain: try r.bool("is_plain"))
            }
        let constraints = try connection.query("""
            SELECT k.contype::text AS kind, k.conname AS name, pg_get_constraintdef(k.oid) AS definition,
                   ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY AS c(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = c.attnum ORDER BY c.ord) AS columns
            FROM pg_constraint k WHERE k.conrelid = $1::bigint::oid AND k.contype <> 'n' ORDER BY k.conname
            """, [oid]).map { r in
                ConstraintInfo(kind: try r.string("kind"), name: try r.string("name"), columns: try r.stringArray("columns"),
                               definition: try r.string("definition"))
            }
        let primaryKey = indexes.first { $0.isPrimary }?.columns ?? []
        return TableInfo(schema: try row.string("schema"), name: try row.string("name"), columns: columns,
                         primaryKey: primaryKey, indexes: indexes, constraints: constraints,
                         details: try details(connection, oid: oid))
    }

    /// Each column's column-level privileges (`attacl`), with their grantors.
    static func columnGrants(_ connection: Connection, oid: Int) throws -> [String: [ColumnGrant]] {
        var grants: [String: [ColumnGrant]] = [:]
        for r in try connection.query("""
            SELECT a.attname AS name, coalesce(quote_ident(r.rolname), 'PUBLIC') AS grantee, x.privilege_type AS privilege,
                   x.is_grantable AS grantable, quote_ident(g.rolname) AS grantor
            FROM pg_attribute a CROSS JOIN LATERAL aclexplode(a.attacl) AS x LEFT JOIN pg_roles r ON r.oid = x.grantee
            LEFT JOIN pg_roles g ON g.oid = x.grantor
            WHERE a.attrelid = $1::bigint::oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
            ORDER BY 1, 2, 3
            """, [oid]) {
            grants[try r.string("name"), default: []].append(
                ColumnGrant(grantee: try r.string("grantee"), privilege: try r.string("privilege"), grantable: try r.bool("grantable"),
                            grantor: try r.optionalString("grantor")))
        }
        return grants
    }

    /// What the offline catalog does not know: the table's kind, full index definitions,
    /// column properties and every other object depending on a column (from `pg_depend`).
    static func details(_ connection: Connection, oid: Int) throws -> TableDetails {
        let table = try connection.query("""
            SELECT CASE WHEN c.relispartition THEN 'partition' ELSE c.relkind::text END AS kind,
                   (SELECT ic.relname FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                    WHERE i.indrelid = c.oid AND i.indisreplident AND c.relreplident = 'i') AS replica_index
            FROM pg_class c WHERE c.oid = $1::bigint::oid
            """, [oid])
        var details = TableDetails(kind: try table.first?.string("kind") ?? "r",
                                   replicaIdentityIndex: try table.first?.optionalString("replica_index"))
        details.indexTablespaces = [:]
        for r in try connection.query("""
            SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
                   ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum > 0 AND (a.attnum = ANY (i.indkey)
                         OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                                    AND d.refclassid = 'pg_class'::regclass AND d.refobjid = i.indrelid AND d.refobjsubid = a.attnum))
                         ORDER BY a.attnum) AS columns,
                   (SELECT t.spcname FROM pg_tablespace t WHERE t.oid = ic.reltablespace) AS tablespace, i.indisclustered AS clustered,
                   obj_description(i.indexrelid, 'pg_class') AS comment
            FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1::bigint::oid
            """, [oid]) {
            let name = try r.string("name")
            details.indexDefinitions[name] = try r.string("definition")
            details.indexColumns[name] = try r.stringArray("columns")
            if let tablespace = try r.optionalString("tablespace") { details.indexTablespaces?[name] = tablespace }
            if try r.bool("clustered") { details.clusteredIndex = name }
            if let comment = try r.optionalString("comment") { details.indexComments = (details.indexComments ?? [:]).merging([name: comment]) { $1 } }
        }
        details.constraintComments = [:]
        for r in try connection.query("""
            SELECT k.conname AS name, obj_description(k.oid, 'pg_constraint') AS comment FROM pg_constraint k
            WHERE k.conrelid = $1::bigint::oid AND obj_description(k.oid, 'pg_constraint') IS NOT NULL
            """, [oid]) {
            details.constraintComments?[try r.string("name")] = try r.string("comment")
        }
        if details.indexComments == nil { details.indexComments = [:] }
        for r in try connection.query("""
            SELECT a.attname AS name,
                   (SELECT quote_ident(n.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co
                    JOIN pg_namespace n ON n.oid = co.collnamespace
                    WHERE co.oid = a.attcollation AND a.attcollation <> t.typcollation) AS collation,
                   col_description(a.attrelid, a.attnum) AS comment,
                   CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::int END AS statistics,
                   CASE WHEN a.attstorage <> t.typstorage THEN
                     CASE a.attstorage WHEN 'p' THEN 'PLAIN' WHEN 'e' THEN 'EXTERNAL' WHEN 'm' THEN 'MAIN' ELSE 'EXTENDED' END END AS storage,
                   CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' END AS compression,
                   CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END AS identity,
                   pg_get_serial_sequence(a.attrelid::regclass::text, a.attname) AS sequence,
                   c.relname AS sequence_name,
                   format('START WITH %s INCREMENT BY %s CACHE %s %s', s.seqstart, s.seqincrement, s.seqcache,
                          CASE WHEN s.seqcycle THEN 'CYCLE' ELSE 'NO CYCLE' END) AS sequence_options,
                   format('MINVALUE %s MAXVALUE %s', s.seqmin, s.seqmax) AS sequence_bounds,
                   format_type(s.seqtypid, NULL) AS sequence_type,
                   (SELECT k.conname FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype = 'n'
                    AND k.conkey[1] = a.attnum AND k.convalidated) AS not_null_constraint,
                   array_to_string(a.attoptions, ',') AS options,
                   (SELECT k.conname FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype = 'n'
                    AND k.conkey[1] = a.attnum AND NOT k.convalidated) AS not_valid_not_null_constraint
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_sequence s ON s.seqrelid = to_regclass(pg_get_serial_sequence(a.attrelid::regclass::text, a.attname))
            LEFT JOIN pg_class c ON c.oid = s.seqrelid
            WHERE a.attrelid = $1::bigint::oid AND a.attnum > 0 AND NOT a.attisdropped
            """, [oid]) {
            details.columns[try r.string("name")] = ColumnDetails(
                collation: try r.optionalString("collation"), comment: try r.optionalString("comment"),
                statisticsTarget: try r.optionalInt("statistics"), storage: try r.optionalString("storage"),
                compression: try r.optionalString("compression"), identity: try r.optionalString("identity"),
                ownedSequence: try r.optionalString("sequence"), sequenceName: try r.optionalString("sequence_name"),
                sequenceOptions: try r.optionalString("sequence_name") == nil ? nil : try r.optionalString("sequence_options"),
                sequenceBounds: try r.optionalString("sequence_name") == nil ? nil : try r.optionalString("sequence_bounds"))
            details.columns[try r.string("name")]?.notNullConstraint = try r.optionalString("not_null_constraint")
            details.columns[try r.string("name")]?.notValidNotNullConstraint = try r.optionalString("not_valid_not_null_constraint")
            details.columns[try r.string("name")]?.sequenceType = try r.optionalString("sequence_type")
            details.columns[try r.string("name")]?.options = try r.optionalString("options").map { $0.split(separator: ",").map(String.init) }
        }
        for (name, grants) in try columnGrants(connection, oid: oid) {
            details.columns[name, default: ColumnDetails()].grants = grants
        }
        // Objects depending on a column, other than the table's own indexes, constraints,
        // defaults and owned sequences (read above), and the views of Bellows' versioned
        // schemas (`_bellows_…`, VersionSchemas), which the phases create and drop themselves.
        for r in try connection.query("""
            SELECT DISTINCT a.attname AS name, pg_describe_object(d.classid, d.objid, d.objsubid) AS description,
                   CASE d.classid
                     WHEN 'pg_rewrite'::regclass THEN (SELECT CASE WHEN n.nspname LIKE '\\_bellows\\_%' AND c.relkind = 'v' THEN 'own'
                                                                   WHEN c.relkind = 'v' THEN 'view' WHEN c.relkind = 'm' THEN 'materialized view' END
                                                       FROM pg_rewrite w JOIN pg_class c ON c.oid = w.ev_class
                                                       JOIN pg_namespace n ON n.oid = c.relnamespace WHERE w.oid = d.objid)
                     WHEN 'pg_class'::regclass THEN (SELECT CASE WHEN c.oid = d.refobjid AND d.objsubid > 0 THEN 'generated column'
                                                              WHEN c.relkind IN ('i', 'I', 'S') THEN 'own' END
                                                     FROM pg_class c WHERE c.oid = d.objid)
                     WHEN 'pg_constraint'::regclass THEN (SELECT CASE WHEN k.conrelid = d.refobjid THEN 'own' ELSE 'foreign key' END
                                                          FROM pg_constraint k WHERE k.oid = d.objid)
                     WHEN 'pg_attrdef'::regclass THEN (SELECT CASE WHEN f.adnum = d.refobjsubid THEN 'own' ELSE 'generated column' END
                                                       FROM pg_attrdef f WHERE f.oid = d.objid)
                     WHEN 'pg_policy'::regclass THEN 'policy'
                     WHEN 'pg_trigger'::regclass THEN 'trigger'
                     WHEN 'pg_statistic_ext'::regclass THEN 'statistics'
                     WHEN 'pg_publication_rel'::regclass THEN 'publication'
                   END AS kind
            FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::bigint::oid AND d.refobjsubid > 0
            ORDER BY 1, 2
            """, [oid]) {
            let kind = try r.optionalString("kind")
            guard kind != "own" else { continue }
            details.dependents.append(ColumnDependent(column: try r.string("name"),
                                                      kind: kind.flatMap(ColumnDependent.Kind.init(rawValue:)) ?? .other,
                                                      description: try r.string("description")))
        }
        details.rowTypeUses = try rowTypeUses(connection, oid: oid)
        // The foreign keys that reference one of the table's indexes (hostile-d 28: `unique: false`
        // on such an index failed contract for ever).
        var references: [String: [String]] = [:]
        for r in try connection.query("""
            SELECT ic.relname AS name, pg_describe_object('pg_constraint'::regclass, k.oid, 0) AS description
            FROM pg_constraint k JOIN pg_class ic ON ic.oid = k.conindid
            WHERE k.contype = 'f' AND k.confrelid = $1::bigint::oid ORDER BY 1, 2
            """, [oid]) {
            references[try r.string("name"), default: []].append(try r.string("description"))
        }
        details.indexReferences = references
        return details
    }

    /// The columns of other tables that store the table's row type: the type itself and every
    /// type built on it (arrays, domains, composite types with an attribute of it, ranges),
    /// followed to the columns of ordinary and partitioned tables (a partition's are its
    /// parent's). A materialized view's are left out: `REFRESH` recomputes them.
    static func rowTypeUses(_ connection: Connection, oid: Int) throws -> [RowTypeUse] {
        try connection.query("""
            WITH RECURSIVE uses(oid) AS (
              SELECT c.reltype FROM pg_class c WHERE c.oid = $1::bigint::oid AND c.reltype <> 0
              UNION
              SELECT t.oid FROM uses u CROSS JOIN LATERAL (
                SELECT t.oid FROM pg_type t WHERE t.typelem = u.oid AND t.typlen = -1 AND t.typsubscript = 'array_subscript_handler'::regproc
                UNION ALL SELECT t.oid FROM pg_type t WHERE t.typtype = 'd' AND t.typbasetype = u.oid
                UNION ALL SELECT r.rngtypid FROM pg_range r WHERE r.rngsubtype = u.oid
                UNION ALL SELECT c.reltype FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                          WHERE a.atttypid = u.oid AND c.relkind = 'c' AND a.attnum > 0 AND NOT a.attisdropped
              ) AS t(oid)
            )
            SELECT DISTINCT c.oid::regclass::text || '.' || quote_ident(a.attname) AS column, format_type(a.atttypid, a.atttypmod) AS type
            FROM uses u JOIN pg_attribute a ON a.atttypid = u.oid JOIN pg_class c ON c.oid = a.attrelid
            WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            ORDER BY 1
            """, [oid]).map { RowTypeUse(column: try $0.string("column"), type: try $0.string("type")) }
    }
}

extension CatalogReader {
    /// The functions among `names` (lower-case, unqualified) of which some overload is volatile
    /// (`pg_proc.provolatile = 'v'`) and built in or an extension's (`uuid_generate_v4`,
    /// `gen_random_bytes`): the plan's expressions calling them are not repeatable
    /// (`Repeatability`). A function of the database's own is left out: VOLATILE is
    /// `CREATE FUNCTION`'s default, so it says nothing, and such a function is compared by
    /// value (a false "repeatable" makes verify refuse; a false "volatile" would check less).
    public static func volatileFunctions(_ connection: Connection, _ names: Set<String>) throws -> Set<String> {
        guard !names.isEmpty else { return [] }
        return Set(try connection.query("""
            SELECT DISTINCT p.proname::text AS name FROM pg_proc p
            WHERE p.proname = ANY($1::text[]) AND p.provolatile = 'v'
              AND (p.pronamespace = 'pg_catalog'::regnamespace
                   OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'))
            """, [PostgresArray.literal(names.sorted())]).map { try $0.string("name") })
    }

    /// The types among `types` whose values have no default equality: after domains, array
    /// elements and composite types' fields, a leaf type without a default btree or hash
    /// operator class of its own, a polymorphic one (enums, ranges) or one of a type it is
    /// implicitly binary-coercible to (`varchar` → `text`). Stricter than PostgreSQL's type
    /// cache (which also takes `xml` → `text`, though `xml = xml` does not parse): a type in
    /// doubt is compared as text, which always works. Unknown names are left out.
    public static func typesWithoutEquality(_ connection: Connection, _ types: Set<String>) throws -> Set<String> {
        // `to_regtype` raises on a name it cannot parse (`text COLLATE "C"`, which a plan expanded
        // before check refused it may hold): such a name is left out, so rollback still runs (hostile-e 03).
        let types = types.filter { !Lexer.tokenize($0).contains { $0.isKeyword("COLLATE") } }
        guard !types.isEmpty else { return [] }
        let rows = try connection.query("""
            WITH RECURSIVE part(name, oid) AS (
              SELECT name, to_regtype(name)::oid FROM unnest($1::text[]) AS name WHERE to_regtype(name) IS NOT NULL
              UNION
              SELECT part.name, inner_type.oid
              FROM part JOIN pg_type ty ON ty.oid = part.oid
              CROSS JOIN LATERAL (
                SELECT ty.typbasetype WHERE ty.typtype = 'd'
                UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0 AND ty.typlen = -1
                UNION ALL SELECT a.atttypid FROM pg_attribute a
                          WHERE ty.typtype = 'c' AND a.attrelid = ty.typrelid AND a.attnum > 0 AND NOT a.attisdropped
              ) AS inner_type(oid)
            )
            SELECT DISTINCT part.name
            FROM part JOIN pg_type ty ON ty.oid = part.oid
            WHERE ty.typtype NOT IN ('d', 'c') AND NOT (ty.typelem <> 0 AND ty.typlen = -1)
              AND NOT EXISTS (
                SELECT 1 FROM pg_opclass oc JOIN pg_am am ON am.oid = oc.opcmethod
                WHERE oc.opcdefault AND am.amname IN ('btree', 'hash')
                  AND (oc.opcintype = ty.oid
                       OR (ty.typtype = 'e' AND oc.opcintype = to_regtype('anyenum'))
                       OR (ty.typtype = 'r' AND oc.opcintype = to_regtype('anyrange'))
                       OR (ty.typtype = 'm' AND oc.opcintype = to_regtype('anymultirange'))
                       OR EXISTS (SELECT 1 FROM pg_cast c WHERE c.castsource = ty.oid AND c.casttarget = oc.opcintype
                                   AND c.castmethod = 'b' AND c.castcontext = 'i')))
            """, [PostgresArray.literal(types.sorted())])
        return Set(try rows.map { try $0.string("name") })
    }
}

/// Everything that defines a table's shape, as text lines that compare exactly: columns with
/// types, defaults and nullability, constraints, indexes, triggers, and (when not PostgreSQL's
/// default) row security, forced or not, the replica identity, and each policy (command,
/// roles, USING, WITH CHECK): a rollback that leaves FORCE ROW LEVEL SECURITY on without its
/// policy denies the table to its owner (hostile-h 14). Rollback must restore it.
public struct CatalogSnapshot: Sendable, Hashable, CustomStringConvertible {
    public var lines: [String]
    /// The object each line describes, by name (`column email`, `constraint widgets_pkey`,
    /// `index widgets_name_idx`, `trigger audit`), parallel to `lines`: what a
    /// ``DatabaseSnapshot`` names in a difference.
    public var objects: [String] = []

    public static func take(_ connection: Connection, table: TableName) throws -> CatalogSnapshot {
        try take(connection, relation: table.quoted)
    }

    /// The snapshot of the table `relation` (any text `to_regclass` reads, e.g. `public.widgets`).
    public static func take(_ connection: Connection, relation: String) throws -> CatalogSnapshot {
        let rows = try connection.query("""
            WITH t AS (SELECT to_regclass($1) AS oid)
            SELECT 'column ' || a.attnum || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                   || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
                   || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
                   || coalesce(' COMMENT ' || col_description(a.attrelid, a.attnum), '') AS line,
                   'column ' || quote_ident(a.attname) AS object
            FROM t JOIN pg_attribute a ON a.attrelid = t.oid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT 'constraint ' || k.conname || ' ' || pg_get_constraintdef(k.oid) || CASE WHEN k.convalidated THEN '' ELSE ' (not validated)' END,
                   'constraint ' || quote_ident(k.conname)
            FROM t JOIN pg_constraint k ON k.conrelid = t.oid
            UNION ALL
            SELECT 'index ' || pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END,
                   'index ' || i.indexrelid::regclass::text
            FROM t JOIN pg_index i ON i.indrelid = t.oid
            UNION ALL
            SELECT 'trigger ' || pg_get_triggerdef(g.oid) || ' ' || g.tgenabled::text, 'trigger ' || quote_ident(g.tgname)
            FROM t JOIN pg_trigger g ON g.tgrelid = t.oid WHERE NOT g.tgisinternal
            UNION ALL
            SELECT 'row security ' || CASE WHEN c.relrowsecurity THEN 'enabled' ELSE 'disabled' END
                   || CASE WHEN c.relforcerowsecurity THEN ', forced' ELSE '' END, 'row security'
            FROM t JOIN pg_class c ON c.oid = t.oid WHERE c.relrowsecurity OR c.relforcerowsecurity
            UNION ALL
            SELECT 'replica identity ' || CASE c.relreplident WHEN 'f' THEN 'full' WHEN 'n' THEN 'nothing'
                   ELSE 'using index ' || coalesce((SELECT quote_ident(ic.relname) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                                                    WHERE i.indrelid = c.oid AND i.indisreplident), '(none)') END, 'replica identity'
            FROM t JOIN pg_class c ON c.oid = t.oid WHERE c.relreplident <> 'd'
            UNION ALL
            SELECT 'policy ' || quote_ident(p.polname) || ' AS ' || CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END
                   || ' FOR ' || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END
                   || ' TO ' || array_to_string(ARRAY(SELECT CASE WHEN r.oid = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.oid)) END
                                                      FROM unnest(p.polroles) AS r(oid) ORDER BY 1), ', ')
                   || coalesce(' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', '')
                   || coalesce(' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', ''),
                   'policy ' || quote_ident(p.polname)
            FROM t JOIN pg_policy p ON p.polrelid = t.oid
            ORDER BY 1
            """, [relation])
        return CatalogSnapshot(lines: try rows.map { try $0.string("line") }, objects: try rows.map { try $0.string("object") })
    }

    /// Lines only in `self` (`-`) or only in `other` (`+`).
    public func difference(to other: CatalogSnapshot) -> [String] {
        let mine = Set(lines), theirs = Set(other.lines)
        return lines.filter { !theirs.contains($0) }.map { "- " + $0 } + other.lines.filter { !mine.contains($0) }.map { "+ " + $0 }
    }

    public var description: String { lines.joined(separator: "\n") }
}
