/// `ALTER COLUMN … TYPE` that rewrites the table and its indexes under an ACCESS
/// EXCLUSIVE lock — except PostgreSQL's known binary-coercible widenings.
public struct ColumnTypeChangeRule: LintRule {
    public static let id = "column-type-rewrite"
    public static let defaultSeverity = Severity.error
    public static let summary = "ALTER COLUMN … TYPE that rewrites an existing table (widening varchar/numeric/varbit and → text are allowed)"
    public static let remedy = "A Bellows plan (new column, dual-write, batched backfill, swap). Widenings are not flagged."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        var history = SchemaHistory()  // this file's own earlier statements
        for (i, s) in file.statements.enumerated() {
            defer { history.record(s) }
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions {
                guard let (column, typeIndex) = alterColumnType(action), let typeToken = action[significant: typeIndex - 1],
                      let (newType, _) = SQLType.parse(action.significantTokens[typeIndex...]) else { continue }
                let key = "\(alter.table.name).\(column)"
                let target = "`\(alter.table).\(column)`"
                let advice = "Use a Bellows plan instead: add a new column, dual-write and backfill it in batches, then swap"
                if let using = action.indexOf("USING"), let usingToken = action[significant: using] {
                    findings.append(finding(file, at: usingToken,
                        "changing the type of \(target) with USING rewrites the whole table and rebuilds its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes. \(advice)"))
                    continue
                }
                if let oldText = history.columnTypes[key] ?? context.columnTypes[key], let oldType = SQLType.parse(oldText) {
                    if oldType.changesWithoutRewrite(to: newType) { continue }
                    findings.append(finding(file, at: typeToken,
                        "changing \(target) from \(oldType) to \(newType) rewrites the whole table and rebuilds its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes. \(advice)"))
                    continue
                }
                switch (newType.name, newType.modifiers.isEmpty, newType.isArray) {
                case ("text", _, false), ("varchar", true, false):
                    continue  // widening to an unbounded string type: no rewrite from varchar/text
                case ("varchar", false, false), ("numeric", _, false), ("varbit", _, false):
                    findings.append(finding(file, at: typeToken,
                        "changing the type of \(target) to \(newType) rewrites the table under an ACCESS EXCLUSIVE lock unless it only widens the same type (varchar(n) → varchar(m ≥ n), numeric(p,s) → numeric(p' ≥ p,s)); the current type is not known from earlier migrations. If it narrows or changes the type: \(advice)",
                        severity: .warning))
                default:
                    findings.append(finding(file, at: typeToken,
                        "changing the type of \(target) to \(newType) rewrites the whole table and rebuilds its indexes under an ACCESS EXCLUSIVE lock, blocking reads and writes. \(advice)"))
                }
            }
        }
        return findings
    }
}
