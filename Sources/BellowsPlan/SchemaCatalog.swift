import BellowsSQL

/// What Bellows knows of a table's shape: read from `pg_catalog` by the engine, or from the
/// `CREATE TABLE` statements of `migrations/` for offline checks and `bellows render`.
public struct ColumnInfo: Sendable, Hashable, Codable {
    public var name: String
    /// The type as `format_type` prints it, e.g. `character varying(500)`.
    public var type: String
    public var notNull: Bool
    /// The default expression as `pg_get_expr` prints it (a generated column has none: its
    /// expression is no default).
    public var defaultExpression: String?
    /// A generated column (`GENERATED ALWAYS AS (…) STORED`, PostgreSQL 18's `VIRTUAL`):
    /// PostgreSQL computes its values after BEFORE row triggers, and nothing may write it
    /// (`pg_attribute.attgenerated`). `nil` for any other column.
    public var generated: Generation?

    public enum Generation: String, Sendable, Hashable, Codable {
        case stored, virtual
    }

    /// A domain's innermost base type, as `format_type` prints it (`double precision` for a
    /// domain over a domain over it); nil for any other type, and in a state stored before it
    /// was read. A key's text depends on it (`KeysetSQL.exactText`).
    public var baseType: String?

    public init(name: String, type: String, notNull: Bool, defaultExpression: String? = nil, generated: Generation? = nil,
                baseType: String? = nil) {
        self.name = name
        self.type = type
        self.notNull = notNull
        self.defaultExpression = defaultExpression
        self.generated = generated
        self.baseType = baseType
    }
}

public struct IndexInfo: Sendable, Hashable, Codable {
    public var name: String
    public var columns: [String]
    public var isUnique: Bool
    public var isPrimary: Bool
    /// Backs a UNIQUE or PRIMARY KEY constraint (dropping the column drops it too).
    public var isConstraint: Bool
    /// Plain: a btree over plain columns with their own collations, no predicate or expression,
    /// so it can be rebuilt on a new column and walked as a key.
    public var isPlain: Bool

    public init(name: String, columns: [String], isUnique: Bool, isPrimary: Bool, isConstraint: Bool, isPlain: Bool) {
        self.name = name
        self.columns = columns
        self.isUnique = isUnique
        self.isPrimary = isPrimary
        self.isConstraint = isConstraint
        self.isPlain = isPlain
    }
}

public struct ConstraintInfo: Sendable, Hashable, Codable {
    /// `c` check, `f` foreign key, `u` unique, `p` primary key, `x` exclusion (pg_constraint.contype).
    public var kind: String
    public var name: String
    public var columns: [String]
    /// As `pg_get_constraintdef` prints it, e.g. `FOREIGN KEY (created_by) REFERENCES users(id)`.
    public var definition: String

    public init(kind: String, name: String, columns: [String], definition: String) {
        self.kind = kind
        self.name = name
        self.columns = columns
        self.definition = definition
    }

    private var significantTokens: [Token] { Lexer.tokenize(definition).filter(\.isSignificant) }

    /// Not validated (`pg_get_constraintdef` ends it with `NOT VALID`): rows may violate it;
    /// new writes may not.
    public var isNotValid: Bool {
        let tokens = significantTokens
        return tokens.count >= 2 && tokens[tokens.count - 2].isKeyword("NOT") && tokens[tokens.count - 1].isKeyword("VALID")
    }

    /// PostgreSQL 18: declared `NOT ENFORCED` (`pg_get_constraintdef` ends it so, without
    /// `NOT VALID`): it checks nothing, and PostgreSQL refuses to validate it.
    public var isNotEnforced: Bool {
        let tokens = significantTokens
        return tokens.count >= 2 && tokens[tokens.count - 2].isKeyword("NOT") && tokens[tokens.count - 1].isKeyword("ENFORCED")
    }

    /// PostgreSQL 18: a temporal UNIQUE or PRIMARY KEY (`… WITHOUT OVERLAPS`), backed by a GiST
    /// index only the constraint itself can build.
    public var isWithoutOverlaps: Bool {
        let tokens = significantTokens
        return tokens.indices.dropLast().contains { tokens[$0].isKeyword("WITHOUT") && tokens[$0 + 1].isKeyword("OVERLAPS") }
    }

    /// What Bellows carries as it is and never validates: a NOT VALID or NOT ENFORCED constraint.
    public var isUnvalidated: Bool { isNotValid || isNotEnforced }

    /// The definition without its trailing `NOT VALID`.
    public var definitionAsDeclared: String {
        guard isNotValid else { return definition }
        let tokens = Lexer.tokenize(definition)
        guard let not = tokens.lastIndex(where: { $0.isKeyword("NOT") }) else { return definition }
        return tokens[..<not].map(\.text).joined().trimmingCharacters(in: .whitespaces)
    }

    /// `""`, ` DEFERRABLE` or ` DEFERRABLE INITIALLY DEFERRED`, as the definition says (read
    /// from its keywords, so a quoted column named "DEFERRABLE" does not count).
    public var deferrability: String {
        let tokens = significantTokens
        guard let at = tokens.lastIndex(where: { $0.isKeyword("DEFERRABLE") }), at == 0 || !tokens[at - 1].isKeyword("NOT") else { return "" }
        let deferred = tokens.indices.contains { $0 + 1 < tokens.count && tokens[$0].isKeyword("INITIALLY") && tokens[$0 + 1].isKeyword("DEFERRED") }
        return deferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE"
    }
}

public struct TableInfo: Sendable, Hashable, Codable {
    public var schema: String
    public var name: String
    public var columns: [ColumnInfo]
    public var primaryKey: [String]
    public var indexes: [IndexInfo]
    public var constraints: [ConstraintInfo]
    /// What only the live catalog knows; `nil` offline.
    public var details: TableDetails?

    public init(schema: String, name: String, columns: [ColumnInfo], primaryKey: [String],
                indexes: [IndexInfo] = [], constraints: [ConstraintInfo] = [], details: TableDetails? = nil) {
        self.schema = schema
        self.name = name
        self.columns = columns
        self.primaryKey = primaryKey
        self.indexes = indexes
        self.constraints = constraints
        self.details = details
    }

    /// The single-column foreign key on `column`, if there is one.
    public func foreignKey(on column: String) -> ConstraintInfo? {
        constraints.first { $0.kind == "f" && $0.columns == [column] }
    }

    /// `base`, or `base` with a number appended when a constraint or index of the table already has that name.
    public func freeName(_ base: String, avoiding reserved: Set<String> = []) -> String {
        let taken = Set(constraints.map(\.name) + indexes.map(\.name)).union(reserved)
        guard taken.contains(base) else { return base }
        var n = 1
        func numbered(_ n: Int) -> String { TransitionNames.truncated(base, toBytes: TransitionNames.maximumIdentifierBytes - "\(n)".utf8.count) + "\(n)" }
        while taken.contains(numbered(n)) { n += 1 }
        return numbered(n)
    }

    public func column(_ name: String) -> ColumnInfo? { columns.first { $0.name == name } }

    /// The key backfill batches walk: the primary key, else the first unique plain index over
    /// NOT NULL columns. A plain index uses its columns' own collations (`CatalogReader`): the
    /// walk compares and joins keys with the columns' operators, so a unique index
    /// `(id COLLATE "C")` on a case-insensitive column is no key — restore matched `k1` and `K1`
    /// both to one row and wrote one row's archived value into the other (hostile-m 05). Its
    /// order (`DESC`, `NULLS FIRST`) and `NULLS NOT DISTINCT` do not change its equality
    /// (hostile-n 02: refusing them left plans expanded before stuck).
    public var batchKey: [String]? {
        if !primaryKey.isEmpty { return primaryKey }
        return indexes.first { index in
            index.isUnique && index.isPlain && index.columns.allSatisfy { column($0)?.notNull == true }
        }?.columns
    }

    /// The plain single-column unique index on `column`, if there is one (other than the
    /// primary key): no predicate, no expression, a btree.
    public func uniqueIndex(on column: String) -> IndexInfo? {
        indexes.first { $0.isUnique && !$0.isPrimary && isSimple($0) && $0.columns == [column] }
    }

    /// Whether a replacement of `index` can be built from its columns alone (`(column)`): not
    /// when it backs a deferrable constraint, lives in another tablespace or is the table's
    /// CLUSTER index, which only a recreation from its definition carries (`Carryover`).
    public func rebuildsFromColumns(_ index: IndexInfo) -> Bool {
        guard isSimple(index) else { return false }
        if index.isConstraint, let constraint = constraints.first(where: { $0.name == index.name }), !constraint.deferrability.isEmpty { return false }
        return details?.indexTablespaces?[index.name] == nil && details?.clusteredIndex != index.name
    }

    /// Every column `index` uses: its keys and INCLUDE columns, and where the live catalog
    /// knows them, the columns of its expressions and predicate.
    public func columns(of index: IndexInfo) -> [String] {
        let used = details?.indexColumns[index.name] ?? []
        return index.columns + used.filter { !index.columns.contains($0) }
    }
}

public struct SchemaCatalog: Sendable, Hashable {
    public var tables: [TableInfo]
    /// The schema each unqualified table name resolves to by the session's `search_path`
    /// (a live catalog, `to_regclass`); a name not in it, and every name offline: `public`.
    public var searchPath: [String: String]

    public init(tables: [TableInfo] = [], searchPath: [String: String] = [:]) {
        self.tables = tables
        self.searchPath = searchPath
    }

    /// The schema `name` means here: its own, else the one the search_path resolves it to.
    public func schema(of name: TableName) -> String { name.schema ?? searchPath[name.name] ?? "public" }

    public func table(_ name: TableName) -> TableInfo? {
        let schema = schema(of: name)
        return tables.first { $0.name == name.name && $0.schema == schema }
    }
}

/// What only the live catalog knows of a table (`nil` in the offline catalog built from
/// `migrations/`): its kind, full index definitions, column properties and every other object
/// that depends on one of its columns. Expand stores it with the table, so later phases use
/// exactly what expand saw.
public struct TableDetails: Sendable, Hashable, Codable {
    /// `pg_class.relkind`: `r` a table, `p` a partitioned table.
    public var kind: String
    /// The index named by `REPLICA IDENTITY USING INDEX`, if any.
    public var replicaIdentityIndex: String?
    /// Index name → `pg_get_indexdef`.
    public var indexDefinitions: [String: String]
    /// Index name → every column it uses: keys, INCLUDE columns, expressions and predicate.
    public var indexColumns: [String: [String]]
    /// Column name → the properties a replacement column must carry.
    public var columns: [String: ColumnDetails]
    /// Objects other than the table's own indexes and constraints that depend on a column.
    public var dependents: [ColumnDependent]
    /// Index name → its tablespace, for an index outside the database's default tablespace
    /// (`pg_get_indexdef` leaves it out); `nil` in a table an older Bellows stored.
    public var indexTablespaces: [String: String]? = nil
    /// The index `CLUSTER` uses (`indisclustered`), if any.
    public var clusteredIndex: String? = nil
    /// Columns of tables that store values of this table's row type — directly, in an array, a
    /// domain, a composite type or a range over it (`user_snapshots.data users`). A stored
    /// value follows the type's attributes: a column dropped at contract is erased from every
    /// one of them (hostile-d 35). `nil` in a table an older Bellows stored.
    public var rowTypeUses: [RowTypeUse]? = nil
    /// Index name → the foreign keys (of other tables, or self-referencing) that use it as their
    /// referenced key (`pg_constraint.conindid`), as `pg_describe_object` prints them: PostgreSQL
    /// refuses to drop such an index or its constraint. `nil` in a table an older Bellows stored.
    public var indexReferences: [String: [String]]? = nil
    /// Index name → its comment (`COMMENT ON INDEX`), constraint name → its comment (`COMMENT ON
    /// CONSTRAINT`), for those that have one (hostile-d 38). `nil` in a table an older Bellows stored.
    public var indexComments: [String: String]? = nil
    public var constraintComments: [String: String]? = nil

    public init(kind: String = "r", replicaIdentityIndex: String? = nil, indexDefinitions: [String: String] = [:],
                indexColumns: [String: [String]] = [:], columns: [String: ColumnDetails] = [:], dependents: [ColumnDependent] = []) {
        self.kind = kind
        self.replicaIdentityIndex = replicaIdentityIndex
        self.indexDefinitions = indexDefinitions
        self.indexColumns = indexColumns
        self.columns = columns
        self.dependents = dependents
    }
}

/// A column's properties beyond type, nullability and default; each `nil` when PostgreSQL's default.
public struct ColumnDetails: Sendable, Hashable, Codable {
    /// The collation, quoted (`"C"`, `pg_catalog."default"` is left out), when not the type's default.
    public var collation: String?
    public var comment: String?
    /// `attstattarget` when set (`ALTER COLUMN … SET STATISTICS`).
    public var statisticsTarget: Int?
    /// `PLAIN`, `EXTERNAL`, `EXTENDED` or `MAIN` when not the type's default.
    public var storage: String?
    /// `pglz` or `lz4` when set.
    public var compression: String?
    /// `ALWAYS` or `BY DEFAULT` for an identity column.
    public var identity: String?
    /// The sequence the column owns (`serial`, identity), schema-qualified and quoted.
    public var ownedSequence: String?
    /// That sequence's own name, unqualified, and its options: `START WITH … INCREMENT BY …
    /// CACHE … [NO] CYCLE`, and its bounds `MINVALUE … MAXVALUE …`.
    public var sequenceName: String?
    public var sequenceOptions: String?
    public var sequenceBounds: String?
    /// Column-level privileges: `SELECT`, `INSERT`, `UPDATE`, `REFERENCES` per grantee.
    public var grants: [ColumnGrant]
    /// PostgreSQL 18+: the name of the column's validated NOT NULL constraint (`nil` before 18,
    /// and in a table an older Bellows stored).
    public var notNullConstraint: String? = nil
    /// PostgreSQL 18+: the name of the column's NOT VALID NOT NULL constraint (rows may hold
    /// NULL, new writes may not; the column reads as nullable). `nil` before 18, and in a table
    /// an older Bellows stored.
    public var notValidNotNullConstraint: String? = nil
    /// The owned sequence's data type (`integer` for a `serial`), `nil` without one and in a
    /// table an older Bellows stored.
    public var sequenceType: String? = nil
    /// `attoptions` (`n_distinct=-0.5`, `n_distinct_inherited=…`), as `ALTER COLUMN … SET (…)`
    /// takes them; `nil` when none, and in a table an older Bellows stored (hostile-d 38).
    public var options: [String]? = nil

    public init(collation: String? = nil, comment: String? = nil, statisticsTarget: Int? = nil, storage: String? = nil,
                compression: String? = nil, identity: String? = nil, ownedSequence: String? = nil,
                sequenceName: String? = nil, sequenceOptions: String? = nil, sequenceBounds: String? = nil, grants: [ColumnGrant] = []) {
        self.sequenceName = sequenceName
        self.sequenceOptions = sequenceOptions
        self.sequenceBounds = sequenceBounds
        self.collation = collation
        self.comment = comment
        self.statisticsTarget = statisticsTarget
        self.storage = storage
        self.compression = compression
        self.identity = identity
        self.ownedSequence = ownedSequence
        self.grants = grants
    }
}

public struct ColumnGrant: Sendable, Hashable, Codable {
    /// The role, quoted, or `PUBLIC`.
    public var grantee: String
    public var privilege: String
    public var grantable: Bool
    /// The role that granted it, quoted (`nil` in a table stored by an older Bellows). A
    /// grant reproduced by another role would not be removed by its grantor's `REVOKE`.
    public var grantor: String?

    public init(grantee: String, privilege: String, grantable: Bool, grantor: String? = nil) {
        self.grantee = grantee
        self.privilege = privilege
        self.grantable = grantable
        self.grantor = grantor
    }
}

/// A column of a table whose values hold the table's row type (see ``TableDetails/rowTypeUses``).
public struct RowTypeUse: Sendable, Hashable, Codable {
    /// `user_snapshots.data`: the table as `regclass` prints it (schema-qualified off the
    /// search path), and the column.
    public var column: String
    /// The column's type: `users`, `users[]`, `user_ref` (a composite type holding `users`)…
    public var type: String

    public init(column: String, type: String) {
        self.column = column
        self.type = type
    }
}

/// An object that depends on a column and that contract cannot carry to a replacement column.
public struct ColumnDependent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case view, materializedView = "materialized view", policy, trigger, statistics, publication
        case generatedColumn = "generated column", incomingForeignKey = "foreign key", other
    }

    public var column: String
    public var kind: Kind
    /// As `pg_describe_object` prints it, e.g. `view active_users`, `policy p on table t`.
    public var description: String

    public init(column: String, kind: Kind, description: String) {
        self.column = column
        self.kind = kind
        self.description = description
    }
}
