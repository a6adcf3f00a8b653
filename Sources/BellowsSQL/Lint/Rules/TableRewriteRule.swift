/// `ALTER TABLE … SET TABLESPACE`, `SET LOGGED`, `SET UNLOGGED`, `SET ACCESS METHOD`: each
/// copies the whole table (and for a tablespace its indexes) under an ACCESS EXCLUSIVE lock.
public struct TableRewriteRule: LintRule {
    public static let id = "table-rewrite"
    public static let defaultSeverity = Severity.error
    public static let summary = "ALTER TABLE … SET TABLESPACE, SET LOGGED/UNLOGGED or SET ACCESS METHOD on an existing table (rewrites it under an ACCESS EXCLUSIVE lock)"
    public static let remedy = "No online form: pg_repack (also moves tablespaces) outside migrations, or a maintenance window with `-- bellows:ignore table-rewrite` and the reason."

    public init() {}

    public func check(_ file: LintedFile, context: LintContext) -> [Finding] {
        var findings: [Finding] = []
        for (i, s) in file.statements.enumerated() {
            guard let alter = AlterTable(s), file.isExistingTable(alter.table, before: i, context: context) else { continue }
            for action in alter.actions where action.matches("SET") {
                let what: String
                if action.matches(["TABLESPACE"], at: 1) {
                    what = "SET TABLESPACE copies the whole table `\(alter.table)` (its indexes too) to the new tablespace"
                } else if action.matches(["LOGGED"], at: 1) {
                    what = "SET LOGGED rewrites the whole table `\(alter.table)` and writes all of it to the WAL"
                } else if action.matches(["UNLOGGED"], at: 1) {
                    what = "SET UNLOGGED rewrites the whole table `\(alter.table)` (and an unlogged table is emptied by a crash and not replicated)"
                } else if action.matches(["ACCESS", "METHOD"], at: 1) {
                    what = "SET ACCESS METHOD rewrites the whole table `\(alter.table)` into the new access method"
                } else {
                    continue
                }
                guard let token = action[significant: 1] else { continue }
                findings.append(finding(file, at: token,
                    "\(what) under an ACCESS EXCLUSIVE lock, blocking reads and writes for the whole rewrite. There is no online form: use pg_repack (which can also move a table to another tablespace) outside migrations, or run it in a maintenance window and suppress with `-- bellows:ignore \(Self.id)` and the reason"))
            }
        }
        return findings
    }
}
