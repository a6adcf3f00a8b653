/// `ALTER COLUMN … SET NOT NULL` that makes PostgreSQL scan the table under an ACCESS
/// EXCLUSIVE lock, because no validated `CHECK (col IS NOT NULL)` exists yet. A check validated
/// before it — by an earlier migration, or earlier in the file, also in the same transaction
/// (`VALIDATE CONSTRAINT` scans under SHARE UPDATE EXCLUSIVE, which lets reads and writes go on,
/// and the SET NOT NULL after it skips the scan on PostgreSQL 12+) — is the safe pattern. The
/// check may have been added `NOT VALID` by an earlier migration (``LintContext/pendingNotNullChecks``).
public struct SetNotNullRule: LintRule {
    public static let id = "set-not-null-without-check"
    public static let defaultSeverity = Severity.error
    public static let summary = "SET NOT NULL on an existing table without a CHECK (col IS NOT NULL) validated before it"
    public static let remedy = "`ADD CONSTRAINT … CHECK (c IS NOT NULL) NOT VALID` in a migration of its own; `VALIDATE CONSTRAINT`, then `SET NOT NULL` right after it (PG 12+ skips the scan). Or a Bellows plan."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        var pending = context.pendingNotNullChecks   // table.constraint → column (NOT VALID)
        var nonNull: Set<String> = []                // table.column, by a validated check
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s) else { continue }
            let table = alter.table.name
            for action in alter.actions {
                if case .constraint(let name, let kind)? = AddAction(action), action.matches(["CHECK"], at: kind),
                   let column = notNullCheckColumn(action, checkIndex: kind) {
                    if action.indexOf("NOT", "VALID") != nil {
                        if let name { pending["\(table).\(name)"] = column }
                    } else {
                        // Validated as it is added: a scan under ACCESS EXCLUSIVE, which the
                        // constraint rule reports; the SET NOT NULL after it then skips its own.
                        nonNull.insert("\(table).\(column)")
                    }
                } else if action.matches("VALIDATE", "CONSTRAINT"), let name = action[significant: 2]?.identifierValue,
                          let column = pending.removeValue(forKey: "\(table).\(name)") {
                    nonNull.insert("\(table).\(column)")
                } else if action.matches("ALTER"), let set = action.indexOf("SET", "NOT", "NULL"),
                          let column = alterColumnName(action), let setToken = action[significant: set] {
                    let key = "\(table).\(column)"
                    defer { nonNull.insert(key) }
                    guard file.isExistingTable(alter.table, before: i, context: context),
                          !context.notNullColumns.contains(key), !nonNull.contains(key) else { continue }
                    findings.append(finding(file, at: setToken,
                        "SET NOT NULL on `\(alter.table).\(column)`: PostgreSQL scans the whole table `\(alter.table)` under an ACCESS EXCLUSIVE lock to prove no row is NULL, blocking reads and writes. Instead add `CHECK (\(column) IS NOT NULL) NOT VALID` (in a migration of its own), `VALIDATE CONSTRAINT` it, then SET NOT NULL right after the validation (PostgreSQL 12+ then skips the scan) — or let a Bellows plan's contract phase do it"))
                }
            }
        }
        return findings
    }
}
