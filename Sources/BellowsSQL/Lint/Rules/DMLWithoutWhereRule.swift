/// `UPDATE t SET …` / `DELETE FROM t` without `WHERE` on an existing table.
public struct DMLWithoutWhereRule: LintRule {
    public static let id = "dml-without-where"
    public static let defaultSeverity = Severity.warning
    public static let summary = "UPDATE or DELETE without WHERE on an existing table (one huge transaction: row locks, WAL burst, bloat, replica lag)"
    public static let remedy = "Keyset-batched backfill (a Bellows plan), or the intended WHERE."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            let nameIndex: Int
            if s.matches("UPDATE") { nameIndex = s.skippingModifiers(at: 1) }
            else if s.matches("DELETE", "FROM") { nameIndex = s.skippingModifiers(at: 2) }
            else { continue }
            guard s.indexOf("WHERE") == nil, let verb = s.significantTokens.first,
                  let (table, _) = s.qualifiedName(at: nameIndex),
                  file.isExistingTable(table, before: i, context: context) else { continue }
            let what = verb.isKeyword("UPDATE") ? "UPDATE" : "DELETE"
            findings.append(finding(file, at: verb,
                "\(what) without WHERE touches every row of `\(table)` in one transaction: every row stays locked until it commits, and the WAL burst, bloat and replica lag grow with the table. Backfill in keyset batches instead (a Bellows plan's backfill phase), or add the WHERE that was meant"))
        }
        return findings
    }
}
