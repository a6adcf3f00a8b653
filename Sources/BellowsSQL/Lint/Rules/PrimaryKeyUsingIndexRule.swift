/// `ALTER TABLE … ADD [CONSTRAINT n] PRIMARY KEY USING INDEX i` on an existing table whose
/// index columns are not all known NOT NULL: PostgreSQL then sets NOT NULL on them, scanning
/// the whole table under the ACCESS EXCLUSIVE lock (what `set-not-null-without-check` is about).
public struct PrimaryKeyUsingIndexRule: LintRule {
    public static let id = "primary-key-using-nullable-index"
    public static let defaultSeverity = Severity.error
    public static let summary = "PRIMARY KEY USING INDEX on an existing table over columns not known NOT NULL (a full scan for NOT NULL under an ACCESS EXCLUSIVE lock)"
    public static let remedy = "Make each column NOT NULL first (`CHECK … NOT VALID`, `VALIDATE`, `SET NOT NULL`), then attach the index."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        var history = SchemaHistory()   // what the file did before each statement
        for (i, s) in file.statements.enumerated() {
            defer { history.record(s) }
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions {
                guard case .constraint(_, let kind)? = AddAction(action), action.matches(["PRIMARY", "KEY"], at: kind),
                      let using = action.indexOf("USING", "INDEX", from: kind + 2), let token = action[significant: kind],
                      let index = action[significant: using + 2]?.identifierValue else { continue }
                let notNull = context.notNullColumns.union(history.notNullColumns)
                let columns = history.indexColumns[index] ?? context.indexColumns[index]
                let table = alter.table.name
                if let columns {
                    let nullable = columns.filter { !notNull.contains("\(table).\($0)") }
                    guard !nullable.isEmpty else { continue }
                    findings.append(finding(file, at: token,
                        "PRIMARY KEY USING INDEX \(index) on existing table `\(alter.table)`: \(nullable.map { "`\($0)`" }.joined(separator: ", ")) \(nullable.count == 1 ? "is" : "are") not known NOT NULL, so PostgreSQL sets NOT NULL and scans the whole table under the ACCESS EXCLUSIVE lock, blocking reads and writes. First add `CHECK (column IS NOT NULL) NOT VALID`, `VALIDATE CONSTRAINT` it, then `SET NOT NULL` (PostgreSQL 12+ skips the scan), as `set-not-null-without-check` says; then attach the index"))
                } else {
                    findings.append(finding(file, at: token,
                        "PRIMARY KEY USING INDEX \(index) on existing table `\(alter.table)`: the index's columns are unknown to the linter; any of them not already NOT NULL is set NOT NULL with a full scan under the ACCESS EXCLUSIVE lock. Make sure each is NOT NULL first (validated `CHECK (column IS NOT NULL)`, then `SET NOT NULL`)",
                        severity: .warning))
                }
            }
        }
        return findings
    }
}
