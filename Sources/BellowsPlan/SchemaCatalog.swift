/// What Bellows knows of a table's shape: read from `pg_catalog` by the engine, or from the
/// `CREATE TABLE` statements of `migrations/` for offline checks and `bellows render`.
public struct ColumnInfo: Sendable, Hashable, Codable {
    public var name: String
    /// The type as `format_type` prints it, e.g. `character varying(500)`.
    public var type: String
    public var notNull: Bool
    /// The default expression as `pg_get_expr` prints it.
    public var defaultExpression: String?

    public init(name: String, type: String, notNull: Bool, defaultExpression: String? = nil) {
        self.name = name
        self.type = type
        self.notNull = notNull
        self.defaultExpression = defaultExpression
    }
}

public struct IndexInfo: Sendable, Hashable, Codable {
    public var name: String
    public var columns: [String]
    public var isUnique: Bool
    public var isPrimary: Bool
    /// Backs a UNIQUE or PRIMARY KEY constraint (dropping the column drops it too).
    public var isConstraint: Bool
    /// Plain: a btree over plain columns with no predicate or expression, so it can be rebuilt on a new column.
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
}

public struct TableInfo: Sendable, Hashable, Codable {
    public var schema: String
    public var name: String
    public var columns: [ColumnInfo]
    public var primaryKey: [String]
    public var indexes: [IndexInfo]
    public var constraints: [ConstraintInfo]

    public init(schema: String, name: String, columns: [ColumnInfo], primaryKey: [String],
                indexes: [IndexInfo] = [], constraints: [ConstraintInfo] = []) {
        self.schema = schema
        self.name = name
        self.columns = columns
        self.primaryKey = primaryKey
        self.indexes = indexes
        self.constraints = constraints
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
        while taken.contains(TransitionNames.truncated(base) + "\(n)") { n += 1 }
        return TransitionNames.truncated(base) + "\(n)"
    }

    public func column(_ name: String) -> ColumnInfo? { columns.first { $0.name == name } }

    /// The key backfill batches walk: the primary key, else the first unique index over NOT NULL columns.
    public var batchKey: [String]? {
        if !primaryKey.isEmpty { return primaryKey }
        return indexes.first { index in
            index.isUnique && index.isPlain && index.columns.allSatisfy { column($0)?.notNull == true }
        }?.columns
    }

    /// The single-column unique index on `column`, if there is one (other than the primary key).
    public func uniqueIndex(on column: String) -> IndexInfo? {
        indexes.first { $0.isUnique && !$0.isPrimary && $0.columns == [column] }
    }
}

public struct SchemaCatalog: Sendable, Hashable {
    public var tables: [TableInfo]

    public init(tables: [TableInfo] = []) { self.tables = tables }

    public func table(_ name: TableName) -> TableInfo? {
        tables.first { $0.name == name.name && $0.schema == name.effectiveSchema }
    }
}
