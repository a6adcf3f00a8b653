/// `CREATE INDEX` without `CONCURRENTLY` on a table that already holds data.
public struct NonConcurrentIndexRule: LintRule {
    public static let id = "non-concurrent-index"
    public static let defaultSeverity = Severity.error
    public static let summary = "CREATE INDEX without CONCURRENTLY on an existing table (blocks writes for the whole build)"
    public static let remedy = "`CREATE INDEX CONCURRENTLY`, alone in its file."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            guard let (indexToken, table) = Self.nonConcurrentIndex(s),
                  file.isExistingTable(table, before: i, context: context) else { continue }
            findings.append(finding(file, at: indexToken,
                "CREATE INDEX on existing table `\(table)` takes a SHARE lock that blocks every INSERT, UPDATE and DELETE until the index is built. Use CREATE INDEX CONCURRENTLY, alone in a migration file without BEGIN/COMMIT (Bellows runs it outside a transaction)"))
        }
        return findings
    }

    /// For `CREATE [UNIQUE] INDEX [IF NOT EXISTS] [name] ON [ONLY] table` without
    /// `CONCURRENTLY`: the `INDEX` token and the table.
    static func nonConcurrentIndex(_ s: SQLStatement) -> (Token, QualifiedName)? {
        var i = 1
        if s.matches(["UNIQUE"], at: 1) { i = 2 }
        guard s.matches("CREATE"), s.matches(["INDEX"], at: i), let indexToken = s[significant: i],
              !s.matches(["CONCURRENTLY"], at: i + 1), let on = s.indexOf("ON", from: i + 1) else { return nil }
        guard let (table, _) = s.qualifiedName(at: s.skippingModifiers(at: on + 1)) else { return nil }
        return (indexToken, table)
    }
}
