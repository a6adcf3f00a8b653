/// `REINDEX` without `CONCURRENTLY`: blocks writes to the table (and reads that would use
/// the index) for the whole rebuild.
public struct NonConcurrentReindexRule: LintRule {
    public static let id = "non-concurrent-reindex"
    public static let defaultSeverity = Severity.error
    public static let summary = "REINDEX without CONCURRENTLY (blocks writes, and reads using the index, for the whole rebuild)"
    public static let remedy = "`REINDEX INDEX/TABLE … CONCURRENTLY` (PostgreSQL 12+), alone in its file."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() where s.matches("REINDEX") {
            guard MigrationFile.concurrentlyToken(s) == nil, let token = s.significantTokens.first else { continue }
            // REINDEX [(options)] {INDEX|TABLE|SCHEMA|DATABASE|SYSTEM} name
            var k = 1
            if s[significant: k]?.isSymbol("(") == true {
                var depth = 0
                while let t = s[significant: k] {
                    k += 1
                    if t.isSymbol("(") { depth += 1 }
                    if t.isSymbol(")") { depth -= 1; if depth == 0 { break } }
                }
            }
            let scope = s[significant: k]?.upper ?? ""
            if scope == "TABLE", let (table, _) = s.qualifiedName(at: k + 1),
               !file.isExistingTable(table, before: i, context: context) {
                continue   // created earlier in the file: empty
            }
            if scope == "SYSTEM" {
                findings.append(finding(file, at: token,
                    "REINDEX SYSTEM rebuilds the system catalogs' indexes, blocking every session that touches them; it has no CONCURRENTLY form. Do not run it from a migration"))
            } else {
                findings.append(finding(file, at: token,
                    "REINDEX without CONCURRENTLY blocks writes to the table (and reads that use the index) for the whole rebuild. Use `REINDEX \(scope.isEmpty ? "INDEX" : scope) CONCURRENTLY …` (PostgreSQL 12+), alone in its file (it cannot run in a transaction block)"))
            }
        }
        return findings
    }
}
