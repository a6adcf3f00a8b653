/// `BEGIN; CREATE INDEX CONCURRENTLY …; COMMIT;` — PostgreSQL refuses it.
public struct ConcurrentInTransactionRule: LintRule {
    public static let id = "concurrent-in-transaction"
    public static let defaultSeverity = Severity.error
    public static let summary = "CREATE INDEX CONCURRENTLY, DROP/REINDEX … CONCURRENTLY, DETACH PARTITION … CONCURRENTLY, VACUUM and other statements that cannot run in a transaction block, inside an explicit BEGIN … COMMIT"
    public static let remedy = "Drop the BEGIN/COMMIT; keep the statement alone in its file (Bellows then runs the file outside a transaction)."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() where file.inExplicitBlock[i] {
            guard let what = MigrationFile.nonTransactionalDescription(s),
                  let token = MigrationFile.concurrentlyToken(s) ?? s.significantTokens.first else { continue }
            findings.append(finding(file, at: token,
                "`\(what)` inside an explicit transaction block: PostgreSQL refuses it (\"cannot run inside a transaction block\") and the migration fails. Remove the surrounding BEGIN/COMMIT and keep the statement alone in its own migration file; Bellows then runs that file outside a transaction"))
        }
        return findings
    }
}
