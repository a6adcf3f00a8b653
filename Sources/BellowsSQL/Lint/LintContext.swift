/// What the linter knows about the project beyond the file being linted.
public struct LintContext: Sendable, Hashable {
    /// The file's name (last path component); derived from the linted path when `nil`.
    public var fileName: String?
    /// Lower-cased names (`name` and `schema.name`) of tables created by *earlier*
    /// migrations. A table created in the linted file itself is never "existing".
    public var existingTables: Set<String>
    /// Whether a table that is neither in ``existingTables`` nor created earlier in the file
    /// is presumed to exist (and hold data). `true` by default, so linting a lone file errs
    /// on the side of warning; set it to `false` when ``existingTables`` is complete.
    public var unknownTablesExist: Bool
    /// Column types declared by earlier migrations: `"table.column"` (lower-cased, table
    /// unqualified) → type as written, e.g. `"varchar(100)"`. Lets the type-change rule
    /// tell a widening from a rewrite.
    public var columnTypes: [String: String]
    /// `"table.column"` keys whose values are known non-null from earlier migrations: a
    /// validated `CHECK (column IS NOT NULL)` or a `NOT NULL` column.
    public var notNullColumns: Set<String>
    /// `"table.constraint"` → column of each `CHECK (column IS NOT NULL) NOT VALID` an earlier
    /// migration added and none validated yet: a `VALIDATE CONSTRAINT` of it in the linted file
    /// makes the column known non-null from there on.
    public var pendingNotNullChecks: [String: String] = [:]
    /// Index name (lower-cased, unqualified) → key columns, of indexes on plain columns
    /// created by earlier migrations (for `primary-key-using-nullable-index`).
    public var indexColumns: [String: [String]] = [:]
    /// Whether the migration has its rollback file; `nil` when unknown (rule silent).
    public var hasRollbackFile: Bool?
    /// The file names of all migrations of the project (for numbering rules); empty when
    /// unknown.
    public var allMigrationFileNames: [String] {
        didSet { migrationNumbering = MigrationNumbering(allMigrationFileNames) }
    }
    /// The numbers of ``allMigrationFileNames``, parsed once when the names are set: contexts
    /// copied from one another (``SchemaHistory/context(fileName:hasRollbackFile:base:)``)
    /// share it.
    private(set) var migrationNumbering: MigrationNumbering
    /// Set when the migration runner itself sets `lock_timeout` before each file: the
    /// `missing-lock-timeout` rule is then silent.
    public var runnerSetsLockTimeout: Bool

    public init(fileName: String? = nil, existingTables: Set<String> = [], unknownTablesExist: Bool = true,
                columnTypes: [String: String] = [:], notNullColumns: Set<String> = [],
                hasRollbackFile: Bool? = nil, allMigrationFileNames: [String] = [],
                runnerSetsLockTimeout: Bool = false) {
        self.fileName = fileName
        self.existingTables = existingTables
        self.unknownTablesExist = unknownTablesExist
        self.columnTypes = columnTypes
        self.notNullColumns = notNullColumns
        self.hasRollbackFile = hasRollbackFile
        self.allMigrationFileNames = allMigrationFileNames
        self.migrationNumbering = MigrationNumbering(allMigrationFileNames)
        self.runnerSetsLockTimeout = runnerSetsLockTimeout
    }

    public static let empty = LintContext()
}
