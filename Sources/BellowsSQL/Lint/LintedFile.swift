/// A migration file prepared for the rules: its statements, transaction structure and the
/// tables it creates.
public struct LintedFile: Sendable {
    /// The path findings are reported against.
    public var path: String
    /// The last path component.
    public var fileName: String
    public var analysis: MigrationAnalysis
    /// Per statement: inside an explicit `BEGIN … COMMIT` block of the file (the block's
    /// own `BEGIN`/`COMMIT` included).
    public var inExplicitBlock: [Bool]
    /// Per statement: runs inside a transaction block, either because the runner wraps the
    /// (transactional) file or because of an explicit `BEGIN`.
    public var runsInTransaction: [Bool]
    /// Per statement: statements with equal numbers run in the same transaction. In a
    /// transactional file every statement shares one transaction (the runner skips
    /// explicit `BEGIN`/`COMMIT`); otherwise each statement is its own transaction except
    /// those inside an explicit block.
    public var transactionGroup: [Int]
    /// Per statement: the table a `CREATE TABLE` statement creates.
    let createdTables: [QualifiedName?]

    public var statements: [SQLStatement] { analysis.statements }
    public var isTransactional: Bool { analysis.transactionMode.isTransactional }

    public init(path: String, contents: String) {
        self.init(path: path, analysis: MigrationFile.analyze(contents))
    }

    public init(path: String, analysis: MigrationAnalysis) {
        self.path = path
        self.fileName = String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? Substring(path))
        self.analysis = analysis
        let statements = analysis.statements
        var explicit: [Bool] = []
        var groups: [Int] = []
        var open = false
        var group = 0
        for s in statements {
            if MigrationFile.isTransactionStart(s) {
                if !open { group += 1 }
                open = true
                explicit.append(true)
            } else if MigrationFile.isTransactionEnd(s) {
                explicit.append(open)
                open = false
            } else {
                explicit.append(open)
                if !open { group += 1 }
            }
            groups.append(group)
        }
        inExplicitBlock = explicit
        if analysis.transactionMode.isTransactional {
            runsInTransaction = Array(repeating: true, count: statements.count)
            transactionGroup = Array(repeating: 0, count: statements.count)
        } else {
            runsInTransaction = explicit
            transactionGroup = groups
        }
        createdTables = statements.map(Self.createdTable)
    }

    /// The table a statement creates: `CREATE [TEMP|UNLOGGED] TABLE [IF NOT EXISTS] name …`
    /// (also `AS`, `LIKE`, `PARTITION OF`), `CREATE MATERIALIZED VIEW [IF NOT EXISTS] name`, and
    /// `[WITH …] SELECT … INTO [TEMP|UNLOGGED] [TABLE] name …`.
    static func createdTable(_ s: SQLStatement) -> QualifiedName? {
        if s.matches("SELECT") || s.matches("WITH") { return selectIntoTable(s) }
        guard s.matches("CREATE") else { return nil }
        var i = 1
        while let t = s[significant: i], ["OR", "REPLACE", "GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED"].contains(t.upper), t.kind == .word {
            i += 1
        }
        if s.matches(["MATERIALIZED", "VIEW"], at: i) { i += 1 }
        else if !s.matches(["TABLE"], at: i) { return nil }
        return s.qualifiedName(at: s.skippingModifiers(at: i + 1))?.name
    }

    /// `SELECT … INTO [TEMPORARY|TEMP|UNLOGGED] [TABLE] name …` at the top level (a `WITH`
    /// before it allowed; not `INSERT INTO`, nor an `INTO` inside parentheses or a function body).
    static func selectIntoTable(_ s: SQLStatement) -> QualifiedName? {
        guard let into = s.indexOf("INTO"), into > 0, let before = s[significant: into - 1],
              !before.isKeyword("INSERT"), !before.isKeyword("MERGE"),
              s.indexOf("SELECT") ?? Int.max < into else { return nil }
        var i = into + 1
        while let t = s[significant: i], t.kind == .word, ["TEMPORARY", "TEMP", "UNLOGGED", "TABLE"].contains(t.upper) { i += 1 }
        return s.qualifiedName(at: i)?.name
    }

    /// Whether `name` denotes a table that already exists (and may hold data and be in use)
    /// when statement `index` runs: not created earlier in this file, and either known from
    /// earlier migrations or presumed (``LintContext/unknownTablesExist``).
    public func isExistingTable(_ name: QualifiedName, before index: Int, context: LintContext) -> Bool {
        for created in createdTables.prefix(max(0, min(index, createdTables.count))) {
            if let created, created.name == name.name, created.schema == nil || name.schema == nil || created.schema == name.schema {
                return false
            }
        }
        if name.isIn(context.existingTables) { return true }
        return context.unknownTablesExist
    }

    /// The transaction description for messages.
    func transactionPhrase(_ index: Int) -> String {
        if isTransactional { return "Bellows runs this whole file in one transaction" }
        return "they run in the same explicit transaction block"
    }
}
